"""Invariant (R4.4, issue 15): a profile chooses each instrument's execution algo
(market, best execution, TWAP) with validated parameters; the stack builds exactly that
algo for the instrument's contract orders."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from bastion.config import parse_profile
from bastion.errors import ConfigError
from bastion.orders.algos import AlgoChoice, BestExecutionAlgo, TwapAlgo, make_algo
from tests.conftest import REPO


def _raw() -> dict[str, object]:
    raw: dict[str, object] = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    return raw


def test_profile_execution_per_instrument_parameters() -> None:
    raw = _raw()
    raw["execution"] = {
        "default": {"algo": "market"},
        "instruments": {
            "SP500": {"algo": "best", "patience_seconds": 120, "adverse_ticks": 3},
            "rb": {"algo": "twap", "interval_seconds": 30, "clip_lots": 2},
        },
    }
    profile = parse_profile(raw, "t")
    from bastion.engine.kernel import algo_choices
    from bastion.marketdata.specs import SpecRegistry

    reg = SpecRegistry.bundled()
    choices = algo_choices(profile, {i: reg[i].contract for i in ("SP500", "rb")})  # type: ignore[misc]
    best = choices["SP500"].build()  # type: ignore[index]
    assert isinstance(best, BestExecutionAlgo)
    assert best.patience == dt.timedelta(seconds=120)
    assert best.adverse_ticks == 3
    twap = choices["rb"].build()  # type: ignore[index]
    assert isinstance(twap, TwapAlgo)
    assert (twap.interval, twap.clip_lots) == (dt.timedelta(seconds=30), 2)


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ({"default": {"algo": "vwap"}}, "execution.default"),
        ({"instruments": {"SP500": {"algo": "best", "clip_lots": 2}}}, "clip_lots"),
        ({"instruments": {"SP500": {"algo": "twap", "clip_lots": 0}}}, "clip_lots"),
        ({"instruments": {"SP500": {"algo": "twap", "liquidity_fraction": 1.5}}}, "liquidity"),
        ({"instruments": {"NQ": {"algo": "market"}}}, "execution.instruments: NQ not in"),
    ],
)
def test_profile_execution_bad_parameters_one_line(
    execution: dict[str, object], expected: str
) -> None:
    raw = _raw()
    raw["execution"] = execution
    with pytest.raises(ConfigError) as refused:
        parse_profile(raw, "t")
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)


def test_make_algo_unknown_parameter_refused() -> None:
    with pytest.raises(ValueError, match="unknown parameters"):
        make_algo("market", {"clip_lots": 1})
    assert AlgoChoice("market").build().name == "market"
