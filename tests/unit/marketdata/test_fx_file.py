"""Invariant (issue 15): the rates file keeps each rate with its date and source; an
import checks every row before writing, keeps the newer rate of a currency, and a
profile's table comes from its fixed rates (sim) or that file, never guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bastion.config import parse_profile
from bastion.errors import ConfigError, DataError
from bastion.marketdata.fx import import_rates, profile_fx, read_rates
from tests.conftest import REPO


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text(text)
    return path


def test_fx_import_dated_rates_newer_wins(tmp_path: Path) -> None:
    target = tmp_path / "fx" / "rates.yaml"
    import_rates(
        _csv(tmp_path, "currency,rate,date,source\nCNY,0.1385,2024-04-30,PBOC\n"), target, "USD"
    )
    lines = import_rates(_csv(tmp_path, "currency,rate,date\nCNY,0.14,2024-04-29\n"), target, "USD")
    assert lines == ["CNY: kept 0.1385 of 2024-04-30 (newer than 2024-04-29)"]
    base, rates = read_rates(target)
    assert base == "USD"
    assert rates["CNY"].rate == Decimal("0.1385")
    assert rates["CNY"].as_of == dt.date(2024, 4, 30)
    assert rates["CNY"].source == "PBOC"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("currency,rate\nCNY,0.14\n", "expected a CSV with columns currency,rate,date"),
        ("currency,rate,date\nCNY,-1,2024-04-30\n", "must be a positive number"),
        ("currency,rate,date\nCNY,x,2024-04-30\n", "is not a number"),
        ("currency,rate,date\ncny,0.1,2024-04-30\n", "is not a currency code"),
        ("currency,rate,date\nCNY,0.1,30/04/2024\n", "is not YYYY-MM-DD"),
        ("currency,rate,date\nUSD,1,2024-04-30\n", "is the base currency"),
        ("currency,rate,date\nCNY,0.1,2024-04-30\nCNY,0.2,2024-04-30\n", "appears twice"),
    ],
)
def test_fx_import_bad_rows_one_line_nothing_written(
    tmp_path: Path, text: str, expected: str
) -> None:
    target = tmp_path / "fx" / "rates.yaml"
    with pytest.raises(DataError) as refused:
        import_rates(_csv(tmp_path, text), target, "USD")
    assert expected in str(refused.value)
    assert not target.exists()


def _profile(tmp_path: Path, **changes: object) -> object:
    raw = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw["data"] = {"dir": str(tmp_path / "data"), "sample": False}
    raw.update(changes)
    return parse_profile(raw, "test")


def test_fx_profile_fixed_rates_and_file(tmp_path: Path) -> None:
    fixed = profile_fx(_profile(tmp_path))  # type: ignore[arg-type]
    assert fixed.factor("CNY") == Decimal("0.1385")
    none = profile_fx(_profile(tmp_path, fx={}))  # type: ignore[arg-type]
    assert none.factor("CNY") is None
    assert "no rates file at" in (none.problem("CNY") or "")
    import_rates(
        _csv(tmp_path, "currency,rate,date\nCNY,0.14,2024-04-30\n"),
        tmp_path / "data" / "fx" / "rates.yaml",
        "USD",
    )
    dated = profile_fx(_profile(tmp_path, fx={"max_age_days": 2}))  # type: ignore[arg-type]
    assert dated.factor("CNY", dt.date(2024, 5, 2)) == Decimal("0.14")
    assert dated.factor("CNY", dt.date(2024, 5, 3)) is None


def test_fx_fixed_rates_refused_outside_sim() -> None:
    raw = yaml.safe_load((REPO / "examples" / "paper.yaml").read_text())
    raw["fx"] = {"rates": {"CNY": "0.14"}}
    with pytest.raises(ConfigError, match=r"fx\.rates are fixed rates for sim profiles"):
        parse_profile(raw, "paper")
