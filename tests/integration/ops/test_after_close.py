"""Invariant: ``bastion after-close`` runs data update, shadow, probe and dry-run gate in
order and stops at the first NO with the reason and exit status 3; new bar files dropped
in the profile's drop folder (never the network) are imported, so the same command
before and after a drop moves the gate's data date from one trading day to the next
(issue 19, item 2). A bad file in the drop folder stops it with one line naming the file
(exit status 2) and stays where it was."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from bastion.marketdata.bars import BarStore
from bastion.marketdata.calendars import calendar_for
from bastion.marketdata.sample import write_sample
from bastion.marketdata.specs import SpecRegistry
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
LAST_DAY = "2024-04-30"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("after-close") / "bastion-data"
    write_sample(folder)
    return folder


def _split_last_day(data: Path, drop_file: Path) -> None:
    """Take SP500's bars of the last trading day out of the store into a CSV file, as a
    vendor download of that day would bring them."""
    store = BarStore(data)
    spec = SpecRegistry.bundled()["SP500"]
    calendar = calendar_for(spec)
    tick = float(spec.tick_size)
    dropped = []
    for cid, size in store.contracts("SP500"):
        frame = pl.read_parquet(store.path(cid, size))
        if size == "1d":
            kept = frame.filter(pl.col("ts").dt.date() < pl.lit(LAST_DAY).str.to_date())
        else:
            days = [calendar.trading_day_of(ts).isoformat() for ts in frame["ts"]]
            last = pl.Series(days) == LAST_DAY
            kept = frame.filter(~last)
            dropped.append(frame.filter(last).with_columns(pl.lit(str(cid)).alias("contract")))
        kept.write_parquet(store.path(cid, size))
    bars = pl.concat(dropped)
    csv = bars.select(
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").alias("timestamp"),
        *((pl.col(f"{c}_ticks") * tick).alias(c) for c in ("open", "high", "low", "close")),
        "volume",
        "open_interest",
        "contract",
    )
    csv.write_csv(drop_file)


@pytest.fixture
def desk(in_tmp: Path, sample: Path) -> Path:
    shutil.copytree(sample, in_tmp / "bastion-data")
    shutil.copytree(REPO / "examples" / "pools", in_tmp / "pools")
    raw = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw.update(instruments=["SP500"], pool="pools")
    raw["data"] = {"dir": "bastion-data", "sample": False, "drop_dir": "drop"}
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "sim.yaml").write_text(yaml.safe_dump(raw))
    (in_tmp / "drop").mkdir()
    _split_last_day(in_tmp / "bastion-data", in_tmp / "vendor-2024-04-30.csv")
    return in_tmp


def _gate_state() -> dict[str, object]:
    return json.loads(Path("runs/sim/records/state/gate-latest.json").read_text())


def test_after_close_drop_moves_gate_data_date(cli: Cli, desk: Path) -> None:
    first = cli(["after-close", "--date", "2024-04-29"])
    assert first.code == 0, first.out + first.err
    assert "data update: no new files in drop" in first.out
    assert "gate: executable" in first.out
    assert _gate_state()["data_dates"] == ["2024-04-29"]

    stale = cli(["after-close", "--date", LAST_DAY])
    assert stale.code == 3, stale.out + stale.err
    assert "after-close: stopped at step 2 (shadow), exit status 3" in stale.out
    assert "SP500/202406: stale: last bar is on 2024-04-29" in stale.out
    assert "-- step 3 of 4" not in stale.out  # it stops at the first NO
    assert _gate_state()["data_dates"] == ["2024-04-29"]

    shutil.copy(desk / "vendor-2024-04-30.csv", desk / "drop" / "vendor-2024-04-30.csv")
    moved = cli(["after-close", "--date", LAST_DAY])
    assert moved.code == 0, moved.out + moved.err
    assert "data update: 1 file(s) from drop" in moved.out
    assert "SP500/202406 1d: 1 added" in moved.out
    assert "gate: executable" in moved.out
    assert _gate_state()["data_dates"] == [LAST_DAY]  # the drop moved the gate's data date
    assert _gate_state()["target_date"] == LAST_DAY
    assert not list((desk / "drop").glob("*.csv"))  # imported files move away...
    assert list((desk / "drop" / "imported").glob("*/vendor-2024-04-30.csv"))
    again = cli(["after-close", "--date", LAST_DAY])
    assert again.code == 0, again.out + again.err
    assert "data update: no new files in drop" in again.out  # ...and are never re-imported
    records = sorted(Path("runs/sim/records").glob("20*/after-close-*.json"))
    assert len(records) == 4
    steps = json.loads(records[1].read_text())["details"]["steps"]
    assert [s["step"] for s in steps] == ["data update", "shadow"]


def test_after_close_bad_drop_file_one_line_stays(cli: Cli, desk: Path) -> None:
    bad = desk / "drop" / "broken.csv"
    bad.write_text("timestamp,open,high,low,close,contract\nnot-a-time,1,2,0.5,1.5,SP500/202406\n")
    result = cli(["after-close", "--date", "2024-04-29"])
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err
    assert "after-close: stopped at step 1 (data update), exit status 2" in result.out
    assert "broken.csv" in result.out
    assert bad.exists()  # a refused file stays for the operator to fix


def test_after_close_json_is_one_document_with_steps(cli: Cli, desk: Path) -> None:
    result = cli(["after-close", "--date", "2024-04-29", "--json"])
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["kind"] == "after-close"
    assert document["exit_code"] == 0
    assert [s["step"] for s in document["details"]["steps"]] == [
        "data update",
        "shadow",
        "probe",
        "dry-run gate",
    ]
    assert document["details"]["steps"][-1]["gate_result"] == "executable"


def test_after_close_takes_dated_rates_from_the_drop_folder(cli: Cli, desk: Path) -> None:
    """The data update also brings exchange rates: a ``fx*.csv`` dropped beside the bar
    files is merged into the profile's dated rates file (and moved away), so a profile
    without fixed rates converts with a rate as fresh as its bars."""
    (desk / "drop" / "fx-2024-04-30.csv").write_text(
        "currency,rate,date,source\nCNY,0.1381,2024-04-30,drop\n"
    )
    result = cli(["after-close", "--date", "2024-04-29"])
    assert "rate CNY" in result.out, result.out
    rates = yaml.safe_load((desk / "bastion-data" / "fx" / "rates.yaml").read_text())
    assert "CNY" in json.dumps(rates, default=str)
    assert "0.1381" in json.dumps(rates, default=str)
    assert not (desk / "drop" / "fx-2024-04-30.csv").exists()
    assert list((desk / "drop" / "imported").glob("*/fx-2024-04-30.csv"))
