"""Invariant: the risk engine judges money in the account's base currency: notional and
margin of a contract in another currency are converted at its rate, and without a
usable rate nothing new opens in that currency's instruments (reducing still passes).
Numbers as in ``kit``: one lot is 200,000 notional and 20,000 margin in the contract's
currency; at 0.5 USD per CNY that is 100,000 and 10,000 USD."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from bastion.domain.enums import Side
from bastion.domain.fx import FxRate, FxTable
from bastion.domain.reasons import Reason
from bastion.risk.checks import Check
from tests.unit.risk.kit import SPEC, T0, make_order, make_rig

CNY_SPEC = dataclasses.replace(SPEC, currency="CNY")
HALF = FxTable.fixed("USD", {"CNY": Decimal("0.5")}, "test")


def test_notional_converted_at_rate_boundary() -> None:
    rig = make_rig(spec=CNY_SPEC, fx=HALF, max_notional=Decimal(200_000))
    assert rig.check(make_order(quantity=2)).allowed  # 400,000 CNY = 200,000 USD
    refused = rig.check(make_order(quantity=3))
    assert refused.check == Check.NOTIONAL
    assert "600000.00 CNY (300000.00 USD)" in refused.message
    assert "maximum of 200000 USD" in refused.message


def test_margin_converted_at_rate_boundary() -> None:
    # 10 % high mark of 100,000 USD equity: 10,000 USD, one lot's margin at 0.5.
    rig = make_rig(
        spec=CNY_SPEC,
        fx=HALF,
        equity=Decimal(100_000),
        margin_high_mark=Decimal("0.1"),
        margin_low_mark=Decimal("0.05"),
        max_notional=Decimal(10**9),
    )
    assert rig.check(make_order(quantity=1)).allowed
    assert rig.check(make_order(quantity=2)).check == Check.MARGIN
    assert rig.engine.exposure.margin(make_order(quantity=1))[1] == Decimal("10000.0")


def test_no_rate_refuses_opening_allows_reducing() -> None:
    rig = make_rig(spec=CNY_SPEC, fx=FxTable.identity("USD"))
    refused = rig.check(make_order())
    assert refused.check == Check.FX_RATE
    assert refused.reason is Reason.RISK_LIMIT
    assert "no rate from CNY to USD" in refused.message
    assert "ES opens nothing until a rate is known" in refused.message
    rig.hold(2)
    assert rig.check(make_order(Side.SELL, 1)).allowed
    assert rig.engine.exposure.margin_in_use() is None  # held CNY, no rate: unknown


def test_stale_rate_refuses_opening() -> None:
    dated = FxTable(
        "USD",
        {"CNY": FxRate("CNY", Decimal("0.5"), T0.date() - dt.timedelta(days=5), "file")},
        max_age_days=4,
    )
    rig = make_rig(spec=CNY_SPEC, fx=dated)
    refused = rig.check(make_order())
    assert refused.check == Check.FX_RATE
    assert "5 days old" in refused.message


def test_same_currency_needs_no_rate() -> None:
    rig = make_rig(fx=FxTable.identity("USD"))
    assert rig.check(make_order()).allowed
