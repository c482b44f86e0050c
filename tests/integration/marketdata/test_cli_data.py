"""`bastion data` works end to end on the bundled sample and on pysystemtrade data:
clear reports, exit 1 when data is unusable, and one line with exit 2 (no traceback)
for bad input, with nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from bastion.cli import main
from bastion.domain.ids import ContractId
from bastion.marketdata.checks import is_usable
from bastion.marketdata.sample import write_sample
from bastion.testing.pysystemtrade import guarded_copy
from tests.tables import rows_of

SHARED = (
    Path(os.environ["BASTION_SHARED_DATA"]) / "pysystemtrade"
    if os.environ.get("BASTION_SHARED_DATA")
    else Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "pysystemtrade"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root)
    return root


def test_data_sample_command_writes_both_instruments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "data", "sample", "--data-dir", str(tmp_path))
    assert code == 0
    assert "SP500/202403" in out
    assert "rb/202410" in out
    assert (tmp_path / "bars" / "rb" / "202410" / "1m.parquet").exists()


STALE_RB = "last bar is on 2024-04-30; the latest completed trading day is 2024-05-08"


def test_data_check_sample_after_close_all_usable(
    sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "data", "check", "--data-dir", str(sample_dir), "--now", "2024-04-30T21:00Z"
    )
    assert code == 0, out
    assert "8 series checked, 0 unusable for executable orders" in out


def test_data_check_next_week_stale_unusable_exit_3(
    sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "data",
        "check",
        "--data-dir",
        str(sample_dir),
        "--instrument",
        "rb",
        "--now",
        "2024-05-08T09:00Z",
    )
    assert code == 3  # stale input: a verdict of NO
    assert "UNUSABLE" in out
    stale = [r[2:] for r in rows_of(out, "Issues") if r[3] == "stale"]
    assert ["error", "stale", STALE_RB] in stale
    assert not is_usable(sample_dir, ContractId("rb/202410"), "1m")


def test_data_roll_calendar_and_show_and_adjusted(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "data", "roll-calendar", "rb", "--data-dir", str(sample_dir))
    assert code == 0
    rolls = rows_of(out, "rb roll calendar (stored): 1 roll(s)")
    assert [r[1:] for r in rolls] == [["202405", "202410"]]
    code, out, _ = run(capsys, "data", "show", "rb", "--data-dir", str(sample_dir))
    assert code == 0
    assert "21:00-23:00" in out
    assert "rb2512" in out
    csv = tmp_path / "rb.csv"
    code, out, _ = run(
        capsys, "data", "adjusted", "rb", "--csv", str(csv), "--data-dir", str(sample_dir)
    )
    assert code == 0
    written = pl.read_csv(csv)
    assert written.columns == ["DATETIME", "ADJ"]
    assert written.height == 50


def test_data_import_bad_csv_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,open,high,low,close,contract\n2024-03-12T09:00:00+08:00,3500.5,3501,3500,3501,rb2405\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "data", "import", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 2
    assert err.count("\n") == 1
    assert "bad.csv:2: open 3500.5 is not on the tick of rb/202405" in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "d").exists()


def test_data_import_good_csv_then_again_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "timestamp,open,high,low,close,volume\n2024-03-12T09:00:00+08:00,3500,3501,3500,3501,4\n",
        encoding="utf-8",
    )
    args = ("data", "import", str(good), "--contract", "rb2405", "--data-dir", str(tmp_path / "d"))
    assert run(capsys, *args)[1].strip() == "rb/202405 1m: 1 added, 0 replaced, 0 unchanged"
    assert run(capsys, *args)[1].strip() == "rb/202405 1m: 0 added, 0 replaced, 1 unchanged"


def test_data_unknown_instrument_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "data", "show", "NOPE", "--data-dir", str(tmp_path))
    assert code == 2
    assert "unknown instrument 'NOPE'" in err


def test_data_check_bad_now_one_line_exit_2(
    sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "data", "check", "--data-dir", str(sample_dir), "--now", "2024-04-30 21:00"
    )
    assert code == 2
    assert "needs a UTC offset" in err


@pytest.mark.skipif(
    not (SHARED / "multiple_prices_csv").is_dir(), reason=f"no shared data at {SHARED}"
)
def test_data_import_pysystemtrade_adjusted_compare_lists_pre_2016_rolls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "d")
    copy = tmp_path / "futures"
    guarded_copy(SHARED, copy)  # SP500's roll artifact (-5.75) blank: see the next test
    code, out, _ = run(capsys, "data", "import-pysystemtrade", str(copy), "--data-dir", root)
    assert code == 0
    assert "GOLD: 18311 rows, 177 rolls, 1 roll(s) with undeterminable gap" in out
    csv = tmp_path / "sp500.csv"
    reference = SHARED / "adjusted_prices_csv" / "SP500.csv"
    code, out, _ = run(
        capsys,
        "data",
        "adjusted",
        "SP500",
        "--csv",
        str(csv),
        "--compare",
        str(reference),
        "--data-dir",
        root,
    )
    assert code == 0
    assert "roll(s) with a different gap" in out
    listed = [line for line in out.splitlines() if "ours" in line]
    assert listed
    # pysystemtrade took its 2018-03-12 roll gap from the -5.75 artifact; every other
    # listed roll is before 2016.
    assert [line.split()[0] for line in listed if line.split()[0] >= "2016-01-01"] == ["2018-03-12"]
    ours, theirs = pl.read_csv(csv), pl.read_csv(reference)
    recent = (ours["DATETIME"] >= "2018-03-12 16:41:02") & ours["ADJ"].is_not_null()
    assert (ours["ADJ"].filter(recent) - theirs["ADJ"].filter(recent)).abs().max() <= 1e-6
    window = ("--start", "2024-01-01", "--end", "2024-12-31")
    code, out, _ = run(
        capsys, "data", "roll-calendar", "SP500", "--source", "config", *window, "--data-dir", root
    )
    rolls = [r for r in out.splitlines() if r.startswith("2024-03-08")]
    assert [r.split() for r in rolls] == [["2024-03-08", "202403", "202406"]]


@pytest.mark.skipif(
    not (SHARED / "multiple_prices_csv").is_dir(), reason=f"no shared data at {SHARED}"
)
def test_data_import_pysystemtrade_published_roll_artifact_refused_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "d"
    argv = ("data", "import-pysystemtrade", str(SHARED), "--data-dir", str(root))
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    assert "SP500.csv:8088: PRICE -5.75 is not a positive price" in err
    assert not (root / "series").exists()
