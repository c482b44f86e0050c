"""Invariant: the journal can be read from the CLI (issue 19, item 5): ``bastion journal``
shows every record in sequence order, filtered by time, order (a whole family for an
instrument order id), correlation id and kind (record type or note kind, or a prefix),
as a table or as JSON lines, with the same correlation ids as the JSON logs; bad
filters are one line (exit 2); reading never writes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult
from tests.tables import header_of, rows_of

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short sim session's journal, made once."""
    import os

    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("journal")
    shutil.copytree(REPO / "examples", folder / "examples")
    before = Path.cwd()
    os.chdir(folder)
    try:
        result = run_cli(["session", "-p", "examples/sim.yaml", "--end", "2024-02-06"])
        assert result.code == 0, result.err
    finally:
        os.chdir(before)
    return folder / "runs" / "sim" / "journal.db"


def _lines(cli: Cli, journal: Path, *args: str) -> list[dict[str, object]]:
    result = cli(["journal", "--journal", str(journal), "--json", *args])
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def test_journal_all_records_in_order_json_lines(cli: Cli, journal: Path) -> None:
    rows = _lines(cli, journal)
    assert len(rows) > 20
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert {"seq", "at", "kind", "correlation_id", "orders"} <= set(rows[0])


def test_journal_kind_filter_types_prefixes_and_notes(cli: Cli, journal: Path) -> None:
    fills = _lines(cli, journal, "--kind", "fill")
    assert fills
    assert {r["kind"] for r in fills} == {"fill"}
    broker = _lines(cli, journal, "--kind", "broker_order")
    assert {r["kind"] for r in broker} <= {
        "broker_order.created",
        "broker_order.submitted",
        "broker_order.transition",
    }
    both = _lines(cli, journal, "--kind", "fill", "--kind", "broker_order.created")
    assert len(both) == len(fills) + sum(r["kind"] == "broker_order.created" for r in broker)
    notes = _lines(cli, journal, "--kind", "note")
    assert notes
    assert all(str(r["kind"]).startswith("note:") for r in notes)
    recovery = _lines(cli, journal, "--kind", "recovery")
    assert recovery
    assert {r["kind"] for r in recovery} <= {"note:recovery", "note:recovery_procedure"}


def test_journal_order_and_correlation_follow_one_target(cli: Cli, journal: Path) -> None:
    fill = _lines(cli, journal, "--kind", "fill")[0]
    correlation = str(fill["correlation_id"])
    root = correlation.rsplit("#", 1)[1]  # the instrument order that caused it
    family = _lines(cli, journal, "--order", root)
    kinds = {r["kind"] for r in family}
    assert {"instrument_order.created", "contract_order.created", "fill"} <= kinds
    assert {r["correlation_id"] for r in family} == {correlation}
    by_id = _lines(cli, journal, "--correlation", correlation)
    assert [r["seq"] for r in by_id] == [r["seq"] for r in family]
    prefix = correlation.split("@", 1)[0] + "@"
    assert len(_lines(cli, journal, "--correlation", prefix)) >= len(by_id)


def test_journal_time_filters_and_last(cli: Cli, journal: Path) -> None:
    rows = _lines(cli, journal)
    day = str(rows[len(rows) // 2]["at"])[:10]
    inside = _lines(cli, journal, "--since", day, "--until", day)
    assert inside
    assert all(str(r["at"]).startswith(day) for r in inside)
    later = _lines(cli, journal, "--since", f"{day}T00:00Z")
    assert all(str(r["at"]) >= day for r in later)
    assert [r["seq"] for r in _lines(cli, journal, "--last", "3")] == [r["seq"] for r in rows[-3:]]


def test_journal_table_and_profile_default(cli: Cli, journal: Path, in_tmp: Path) -> None:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    (in_tmp / "runs" / "sim").mkdir(parents=True)
    shutil.copy(journal, in_tmp / "runs" / "sim" / "journal.db")
    table = cli(["journal", "--kind", "fill", "--last", "2"])  # the official profile's
    assert table.code == 0, table.err
    title = "journal runs/sim/journal.db: 2 record(s)"
    assert header_of(table.out, title) == ["seq", "time (UTC)", "kind", "correlation id", "what"]
    rows = rows_of(table.out, title)
    assert [r[2] for r in rows] == ["fill", "fill"]
    assert all(r[4].startswith("fill={exec_id=") for r in rows)
    none = cli(["journal", "--kind", "no-such-kind"])
    assert none.code == 0
    assert "no records match" in none.out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "yesterday"], "--since 'yesterday': expected a date"),
        (["--until", "2024-04-30T10:00"], "needs a UTC offset"),
        (["--last", "0"], "--last"),
    ],
)
def test_journal_bad_filters_one_line(
    cli: Cli, journal: Path, args: list[str], expected: str
) -> None:
    result = cli(["journal", "--journal", str(journal), *args])
    assert result.code == 2
    assert expected in result.err


def test_journal_missing_file_one_line(cli: Cli, in_tmp: Path) -> None:
    result = cli(["journal", "--journal", "nope.db"])
    assert result.code == 2
    assert result.err.strip() == (
        "bastion: error: journal nope.db: no such file; nothing has been journaled yet"
    )
    assert not Path("nope.db").exists()
