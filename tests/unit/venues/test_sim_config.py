"""The sim venue's config is strict: unknown keys and bad values fail with the field named.

Invariant: a config either loads exactly as written or raises ``SimConfigError`` (a
``UserError``) saying what is wrong; nothing is silently defaulted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bastion.domain.enums import TimeInForce
from bastion.errors import UserError
from bastion.venues.sim.config import SlippageKind, load_sim_config


def test_config_loads_from_plain_data_exactly() -> None:
    config = load_sim_config(
        {
            "ack_latency": "PT0.005S",
            "commission_per_contract": "2.5",
            "slippage": {"kind": "fixed_ticks", "ticks": 1},
            "supported_time_in_force": ["day", "gtc"],
            "rate_limits": {"orders_per_second": 5, "order_burst": 2},
        }
    )
    assert config.ack_latency == dt.timedelta(milliseconds=5)
    assert config.commission_per_contract == Decimal("2.5")
    assert config.slippage.kind is SlippageKind.FIXED_TICKS
    assert config.supported_time_in_force == {TimeInForce.DAY, TimeInForce.GTC}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"bogus": 1}, "bogus"),
        ({"participation_rate": 2}, "participation rate"),
        ({"faults": {"drop_rate": 1.5}}, "fault rates"),
        ({"slippage": {"ticks": -1}}, "negative"),
        ({"ack_latency": "soon"}, "ack_latency"),
    ],
)
def test_config_bad_value_raises_user_error_naming_it(
    data: dict[str, object], fragment: str
) -> None:
    with pytest.raises(UserError, match=fragment):
        load_sim_config(data)
