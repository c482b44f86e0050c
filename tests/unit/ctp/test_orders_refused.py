"""Orders CTP's exchanges cannot take are refused before they leave, with the reason:
stop and stop-limit orders (CTP_SKIPS VC-11/VC-12), and a market order while no band is
known (it would be a limit inside the day's band).

Invariant: nothing reaches the counter for an order it cannot carry.
"""

from __future__ import annotations

import pytest

from bastion.domain.enums import OrderType, Side
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Rejected
from bastion.testing.conformance_base import VenueSetup
from bastion.testing.fake_ctp.harness import CtpHarness
from bastion.testing.venue_stubs import make_order
from tests.ctp_binding import require_ctp_binding

require_ctp_binding()  # before any test imports the binding (it may abort)


@pytest.mark.parametrize(
    ("order_type", "prices"),
    [
        (OrderType.STOP, {"stop_ticks": 16005}),
        (OrderType.STOP_LIMIT, {"stop_ticks": 16005, "limit_ticks": 16006}),
    ],
)
def test_orders_refused_stop_orders_never_leave(
    order_type: OrderType, prices: dict[str, int]
) -> None:
    h = CtpHarness(VenueSetup())
    h.set_quote(16000, 16001)
    order = make_order(Side.BUY, 1, order_type, contract_id=h.contract_id, **prices)
    result = h.venue.submit(order)
    assert not result.taken
    assert result.reason is Reason.INVALID_ORDER
    assert "no stop" in result.message
    assert h.counter.requests["insert_order"] == 0
    assert [type(e) for e in h.venue.poll_events()] == [Rejected]


def test_orders_refused_market_order_without_a_band_never_leaves() -> None:
    h = CtpHarness(VenueSetup())  # no quote yet: no limits known
    result = h.venue.submit(make_order(Side.BUY, 1, contract_id=h.contract_id))
    assert not result.taken
    assert "no band is known" in result.message
    assert h.counter.requests["insert_order"] == 0
