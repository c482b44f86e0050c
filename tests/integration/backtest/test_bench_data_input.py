"""Invariant: `bench/backtest.py --data FILE` refuses a bad bar file with one line naming
the file, the line and what was expected, and runs a good one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEADER = "timestamp,open,high,low,close,volume\n"


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "backtest.py"),
            "--data",
            str(path),
            "--slippage-ticks",
            "0",
            "--commission",
            "2.0",
            "--no-journal",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("time,o,h,l,c,v\n", "expected ['timestamp'"),
        (HEADER + "2024-01-02T00:00:00,4000.10,4001,3999,4000,5\n", ":2: ES: price 4000.10"),
        (
            HEADER + "2024-01-02T00:01:00,4000,4001,3999,4000,5\n"
            "2024-01-02T00:00:00,4000,4001,3999,4000,5\n",
            ":3: timestamp",
        ),
        (HEADER + "yesterday,4000,4001,3999,4000,5\n", ":2:"),
    ],
)
def test_bench_data_bad_file_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(content)
    result = _run(path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bench_data_good_file_prints_figures(tmp_path: Path) -> None:
    lines = [HEADER]
    price = 4000.0
    for i in range(200):
        o, c = price, price + (0.25 if (i // 7) % 2 else -0.25)
        lines.append(
            f"2024-01-02T{i // 60:02d}:{i % 60:02d}:00,{o},{max(o, c)},{min(o, c)},{c},10\n"
        )
        price = c
    path = tmp_path / "bars.csv"
    path.write_text("".join(lines))
    result = _run(path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["bars"] == 200
    assert figures["fills"] == figures["orders"] > 0
    assert {"bars_per_s", "pnl", "peak_rss_mb"} <= set(figures)
