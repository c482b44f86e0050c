"""Invariant: a command's tables fit a terminal (long text wraps inside its column,
figures and row names never do) and, when stdout is not a terminal (a pipe, a file, a
test capturing the output), every row stays on one line at the table's natural width,
whatever COLUMNS says."""

from __future__ import annotations

import io

import pytest

from bastion.reports.tables import grid, stdout_text

REASON = "a reason long enough to overflow a narrow terminal " * 3
TABLE = grid(
    "Limits",
    ("limit", "value", "why"),
    [("max_notional", "50,000,000.00 USD", REASON.strip())],
    numeric=(False, True, False),
)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stdout_text_not_a_terminal_narrow_columns_rows_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr("sys.stdout", io.StringIO())
    lines = stdout_text([TABLE]).splitlines()
    [row] = [line for line in lines if line.startswith("max_notional")]
    assert "50,000,000.00 USD" in row
    assert row.rstrip().endswith(REASON.strip())


def test_stdout_text_terminal_fits_width_figures_unbroken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr("sys.stdout", _Tty())
    lines = stdout_text([TABLE]).splitlines()
    assert max(len(line) for line in lines) <= 80
    [row] = [line for line in lines if line.startswith("max_notional")]
    assert "50,000,000.00 USD" in row  # the figure is never wrapped
    assert sum("overflow" in line or "narrow" in line for line in lines) > 1  # text wraps
