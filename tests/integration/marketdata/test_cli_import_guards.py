"""Invariants of `bastion data import` and `bastion data check` on bad input and a bad
environment (issue 16): one line and exit 2 for a bad file, one line and exit 1 for a
data folder that cannot be written or a full disk, and the store exactly as it was;
progress only on a terminal; each series judged on its own by `data check`, history
before a calendar's range reported as unchecked rather than failing the store."""

from __future__ import annotations

import ctypes
import datetime as dt
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from bastion.cli.progress import import_progress
from bastion.domain.ids import ContractId
from bastion.marketdata.bars import BarStore
from bastion.marketdata.importers.files import import_bar_files
from bastion.marketdata.sample import write_sample
from bastion.marketdata.specs import SpecRegistry
from tests.conftest import run_cli
from tests.tables import rows_of

HEADER = "timestamp,open,high,low,close,volume,contract\n"
GOOD = (
    "2024-03-12T09:00:00+08:00,3500,3510,3490,3505,12,rb2405\n"
    "2024-03-12T09:01:00+08:00,3505,3506,3500,3502,10,rb2405\n"
)
BASH = [sys.executable, "-c", "from bastion.cli import main; main()"]
PR_CAPBSET_DROP = 24


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    assert run_cli(["data", "import", str(good), "--data-dir", str(data)]).code == 0
    return data


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2024-03-12T09:01:00+08:00,0,0,0,0,10,rb2405", "bad.csv:2: open 0 is not a positive"),
        ("2024-03-12T09:01:00+08:00,1e300,1e300,3500,3502,10,rb2405", "bad.csv:2: open 1e300 is beyond the largest price accepted for rb"),  # noqa: E501
        ("2024-03-12T09:01:00+08:00,3505,3506,3500,3502,1e23,rb2405", "bad.csv:2: volume 1e23 is above the largest volume accepted for rb"),  # noqa: E501
        ("9999-03-12T09:01:00+08:00,3505,3506,3500,3502,10,rb2405", "bad.csv:2: timestamp 9999-03-12T09:01:00+08:00 is outside the dates a bar can have"),  # noqa: E501
    ],
)  # fmt: skip
def test_data_import_bad_value_one_line_exit_2_store_unchanged(
    tmp_path: Path, stored: Path, row: str, expected: str
) -> None:
    before = _files(stored)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + row + "\n", encoding="utf-8")
    result = run_cli(["data", "import", str(bad), "--data-dir", str(stored)])
    assert result.code == 2
    assert expected in _one_line(result.err)
    assert "replaced" not in result.out
    assert _files(stored) == before


def test_data_import_revision_listed_older_refused_replace_accepted(
    tmp_path: Path, stored: Path
) -> None:
    later = tmp_path / "later.csv"
    later.write_text(
        HEADER + "2024-03-13T09:00:00+08:00,3502,3503,3500,3501,3,rb2405\n", encoding="utf-8"
    )
    assert run_cli(["data", "import", str(later), "--data-dir", str(stored)]).code == 0
    revise = tmp_path / "revise.csv"
    revise.write_text(
        HEADER + "2024-03-13T09:00:00+08:00,3502,3504,3500,3501,3,rb2405\n", encoding="utf-8"
    )
    result = run_cli(["data", "import", str(revise), "--data-dir", str(stored)])
    assert result.code == 0, result.err
    assert result.out.strip() == (
        "rb/202405 1m: 0 added, 1 replaced, 0 unchanged (revised bars: 2024-03-13 01:00 UTC)"
    )
    older = tmp_path / "older.csv"
    older.write_text(
        HEADER + "2024-03-12T09:01:00+08:00,3505,3506,3500,3500,10,rb2405\n", encoding="utf-8"
    )
    before = _files(stored)
    refused = run_cli(["data", "import", str(older), "--data-dir", str(stored)])
    assert refused.code == 2
    line = _one_line(refused.err)
    assert f"{older}:2: bar at 2024-03-12 01:01 UTC for rb/202405 1m differs" in line
    assert line.endswith("history is not replaced without --replace")
    assert _files(stored) == before
    forced = run_cli(["data", "import", str(older), "--data-dir", str(stored), "--replace"])
    assert forced.code == 0
    assert "1 replaced" in forced.out
    assert (
        run_cli(["data", "import", str(older), "--data-dir", str(stored), "--revise-days=-1"]).code
        == 2
    )


def _without_override() -> None:
    """Drop root's right to write anywhere (CAP_DAC_OVERRIDE and kin) from the child, so
    a folder's permission bits bind it as they bind any user. Not root: nothing to do."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2, 3):  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_data_import_unwritable_data_folder_one_line_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.txt").write_text("kept")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    data.chmod(0o555)
    try:
        proc = subprocess.run(  # the child cannot override permissions (preexec_fn)
            [*BASH, "data", "import", str(good), "--data-dir", str(data)],
            capture_output=True, text=True, check=False, preexec_fn=_without_override,
        )  # fmt: skip
    finally:
        data.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    line = _one_line(proc.stderr)
    assert line == (
        f"bastion: error: data folder {data}: cannot be written (Permission denied);"
        " nothing was imported"
    )
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt"]


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)


def test_data_import_disk_full_one_line_exit_1_store_unchanged(
    tmp_path: Path, stored: Path
) -> None:
    """A real limit: the importing process may not write a file above 64 KiB."""
    start = dt.datetime(2024, 3, 13, 1, tzinfo=dt.UTC)
    rows = "".join(
        f"{start + dt.timedelta(minutes=i):%Y-%m-%dT%H:%M}Z,3500,3510,3490,3505,{i},rb2405\n"
        for i in range(50_000)
    )
    big = tmp_path / "big.csv"
    big.write_text(HEADER + rows, encoding="utf-8")
    before = _files(stored)
    proc = subprocess.run(  # preexec_fn sets the child's own file-size limit
        [*BASH, "data", "import", str(big), "--data-dir", str(stored)],
        capture_output=True, text=True, check=False,
        preexec_fn=lambda: _limit_file_size(64 << 10),
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith(f"bastion: error: data folder {stored}: cannot be written (File too")
    assert line.endswith("; nothing was imported")
    assert not list(stored.glob(".import-*"))
    assert _files(stored) == before


def test_data_import_not_a_terminal_shows_no_progress(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    result = run_cli(["data", "import", str(good), "--data-dir", str(tmp_path / "d")])
    assert result.code == 0
    assert result.err == ""
    assert result.out == "rb/202405 1m: 2 added, 0 replaced, 0 unchanged\n"


def test_import_progress_on_a_terminal_shows_rows_rate_and_time_left(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD * 1, encoding="utf-8")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with import_progress(console) as progress:
        import_bar_files([good], BarStore(tmp_path / "d"), SpecRegistry.bundled(), None, progress)
    shown = screen.getvalue()
    assert "good.csv" in shown
    assert "2 rows" in shown
    assert "rows/s" in shown
    assert "0:00:00" in shown  # time left


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root)
    return root


def test_data_check_history_before_calendar_unchecked_others_judged(
    tmp_path: Path, sample_store: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_store, data)
    old = tmp_path / "es2000.csv"
    old.write_text(
        HEADER
        + "".join(
            f"2000-01-{d:02d}T00:00Z,1450,1460,1440,1455,1000,ESH0\n" for d in (3, 4, 5, 6, 7)
        ),
        encoding="utf-8",
    )
    imported = run_cli(["data", "import", str(old), "--bar-size", "1d", "--data-dir", str(data)])
    assert imported.code == 0, imported.err
    assert "SP500/200003 1d: 5 added" in imported.out
    result = run_cli(["data", "check", "--data-dir", str(data), "--now", "2024-04-30T21:00Z"])
    assert result.code == 0, result.out + result.err
    series = {(r[0], r[1]): r[2:] for r in rows_of(result.out, "Series")}
    assert series[("SP500/200003", "1d")][0] == "5"
    assert series[("SP500/200003", "1d")][-1].startswith("UNCHECKED")
    [issue] = rows_of(result.out, "Issues")
    assert issue[:4] == ["SP500/200003", "1d", "warning", "unchecked"]
    assert issue[4].startswith("5 bar(s) from 2000-01-03 to 2000-01-07 lie before")
    assert "9 series checked, 0 unusable for executable orders, 1 unchecked" in result.out
    assert [r[-1] for r in series.values()].count("usable") == 8


def test_data_check_one_series_in_future_fails_only_itself(
    tmp_path: Path, sample_store: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_store, data)
    ts = dt.datetime(2030, 1, 2, 15, tzinfo=dt.UTC)
    bar = pl.DataFrame({
        "ts": [ts], "open_ticks": [20000], "high_ticks": [20000], "low_ticks": [20000],
        "close_ticks": [20000], "volume": [1],
    })  # fmt: skip
    BarStore(data).write(ContractId("SP500/203003"), "1m", bar)  # as an older Bastion stored it
    result = run_cli(["data", "check", "--data-dir", str(data), "--now", "2024-04-30T21:00Z"])
    assert result.code == 3  # one unusable series: a verdict of NO
    assert "Traceback" not in result.err
    [issue] = rows_of(result.out, "Issues")
    assert issue == [
        "SP500/203003",
        "1m",
        "error",
        "future",
        "1 bar(s) start after 2024-04-30 21:00 UTC: 2030-01-02 15:00:00+00:00",
    ]
    assert "9 series checked, 1 unusable for executable orders" in result.out
    series = {(r[0], r[1]): r[2:] for r in rows_of(result.out, "Series")}
    only = ["1", "2030-01-02 15:00", "2030-01-02 15:00", "UNUSABLE"]
    assert series[("SP500/203003", "1m")] == only
    assert [r[-1] for r in series.values()].count("usable") == 8


PSYS_HEADER = "DATETIME,PRICE_CONTRACT,FORWARD_CONTRACT,CARRY_CONTRACT,PRICE,FORWARD,CARRY\n"


def _psys(tmp_path: Path, tag: str, rows: list[str]) -> Path:
    root = tmp_path / tag
    (root / "multiple_prices_csv").mkdir(parents=True)
    text = PSYS_HEADER + "".join(f"{row}\n" for row in rows)
    (root / "multiple_prices_csv" / "CORN.csv").write_text(text, encoding="utf-8")
    return root


def _corn_history(days: int) -> list[str]:
    start = dt.date(2020, 1, 2)
    return [
        f"{start + dt.timedelta(days=i)} 00:00:00,202003,202005,202005,{380 + i * 0.25},,"
        for i in range(days)
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["2020-02-20 00:00:00,202003,202005,202005,-5,,"], "CORN.csv:2: PRICE -5 is not a positive price"),  # noqa: E501
        (["2020-02-20 00:00:00,202003,202005,202005,390,,inf"], "CORN.csv:2: CARRY 'inf' is not a number"),  # noqa: E501
        (["9999-09-28 00:00:00,202003,202005,202005,390,,"], "CORN.csv:2: timestamp 9999-09-28 00:00:00 is outside the dates"),  # noqa: E501
        (["2020-01-05 00:00:00,202003,202005,202005,999,,"], "CORN.csv:2: CORN at 2020-01-05 00:00 UTC differs from the stored multiple prices"),  # noqa: E501
    ],
)  # fmt: skip
def test_data_import_pysystemtrade_bad_rows_one_line_exit_2_history_kept(
    tmp_path: Path, rows: list[str], expected: str
) -> None:
    data = tmp_path / "data"
    first = run_cli(
        ["data", "import-pysystemtrade", str(_psys(tmp_path, "a", _corn_history(49))),
         "--data-dir", str(data)]
    )  # fmt: skip
    assert first.code == 0, first.err
    assert "CORN: 49 rows" in first.out
    before = _files(data)
    result = run_cli(
        ["data", "import-pysystemtrade", str(_psys(tmp_path, "b", rows)), "--data-dir", str(data)]
    )
    assert result.code == 2
    assert expected in _one_line(result.err)
    assert _files(data) == before


def test_data_import_pysystemtrade_revision_listed_replace_accepted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history = str(_psys(tmp_path, "a", _corn_history(49)))
    assert run_cli(["data", "import-pysystemtrade", history, "--data-dir", str(data)]).code == 0
    latest = _psys(tmp_path, "b", ["2020-02-19 00:00:00,202003,202005,202005,392.25,,"])
    result = run_cli(["data", "import-pysystemtrade", str(latest), "--data-dir", str(data)])
    assert result.code == 0, result.err
    assert "multiple prices: 0 added, 1 revised, 0 unchanged (revised: 2020-02-19 00:00 UTC)" in (
        result.out
    )
    older = _psys(tmp_path, "c", ["2020-01-05 00:00:00,202003,202005,202005,999,,"])
    argv = ["data", "import-pysystemtrade", str(older), "--data-dir", str(data)]
    assert run_cli(argv).code == 2
    forced = run_cli([*argv, "--replace"])
    assert forced.code == 0, forced.err
    assert "1 revised" in forced.out
    stored = pl.read_parquet(data / "series" / "CORN" / "multiple.parquet")
    assert stored.height == 49
    assert 999.0 in stored["price"].to_list()
    assert run_cli([*argv, "--revise-days", "nan"]).code == 2
