"""Invariant (R4.4, issue 15): a profile chooses each instrument's execution algo
(market, best execution, TWAP) with validated parameters; the stack builds exactly that
algo for the instrument's contract orders."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from bastion.config import parse_profile
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ContractId, InstrumentId, OrderId
from bastion.domain.market import MarketQuote
from bastion.domain.orders import ContractOrder
from bastion.errors import ConfigError
from bastion.orders.algos import AlgoChoice, BestExecutionAlgo, TwapAlgo, make_algo
from tests.conftest import REPO

T = dt.datetime(2024, 4, 1, 14, tzinfo=dt.UTC)


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


def _order(side: Side = Side.BUY, quantity: int = 4) -> ContractOrder:
    return ContractOrder(
        order_id=OrderId("C1"),
        instrument_id=InstrumentId("ES"),
        contract_id=ContractId("ES/202606"),
        side=side,
        quantity=quantity,
        created=T,
    )


def _quote(bid: int, ask: int, size: int = 10) -> MarketQuote:
    return MarketQuote(ContractId("ES/202606"), bid, ask, bid, T, bid_size=size, ask_size=size)


def test_best_execution_passive_then_aggressive_on_patience_or_adverse_move() -> None:
    algo = make_algo("best", {"patience_seconds": 60.0, "adverse_ticks": 2})
    order = _order()
    first = algo.decide(order, None, _quote(100, 101), T, None)
    assert first.submit is not None
    assert (first.submit.order_type, first.submit.limit_ticks) == (OrderType.LIMIT, 100)
    # One tick against us: still passive. Two: cancel the resting limit, then market.
    assert algo.decide(order, None, _quote(101, 102), T, None).submit is not None
    working = object()
    turn = algo.decide(order, working, _quote(102, 103), T, None)  # type: ignore[arg-type]
    assert turn.cancel
    assert "adverse move" in turn.note
    aggressive = algo.decide(order, None, _quote(102, 103), T, None)
    assert aggressive.submit is not None
    assert aggressive.submit.order_type is OrderType.MARKET
    patient = make_algo("best", {"patience_seconds": 60.0, "adverse_ticks": 50})
    patient.decide(order, None, _quote(100, 101), T, None)
    late = T + dt.timedelta(seconds=60)
    assert patient.decide(order, working, _quote(100, 101), late, None).cancel  # type: ignore[arg-type]


def test_twap_clips_by_size_interval_and_visible_liquidity() -> None:
    algo = make_algo("twap", {"interval_seconds": 60.0, "clip_lots": 3, "liquidity_fraction": 0.2})
    order = _order(quantity=10)
    clip = algo.decide(order, None, _quote(100, 101, size=100), T, None).submit
    assert clip is not None
    assert clip.quantity == 3
    assert (
        algo.decide(order, None, _quote(100, 101), T + dt.timedelta(seconds=59), None).submit
        is None
    )
    thin = algo.decide(order, None, _quote(100, 101, size=5), T + dt.timedelta(seconds=60), None)
    assert thin.submit is not None
    assert thin.submit.quantity == 1  # 20 % of 5 visible lots
