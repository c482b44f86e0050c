"""Bad orders never raise through the caller and leave nothing half-recorded.

Invariant: for any malformed order (non-tick price, zero/negative/non-integer
quantity, unknown contract, unsupported type or time in force, a wrong shape, a reused
client order id) ``submit`` returns a refusal, emits one ``Rejected`` with a clear
reason, and the venue's working orders, fills, positions and account are unchanged.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ContractId
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import Rejected
from bastion.testing.venue_stubs import make_order, make_sim_venue, quote
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue


def _state(venue: SimVenue) -> tuple[Any, ...]:
    return (
        venue.open_orders().value,
        venue.positions().value,
        venue.account().value,
        venue.fills_since(None).value,
    )


BAD_FIELDS: list[tuple[str, Any]] = [
    ("quantity", 0),
    ("quantity", -3),
    ("quantity", 1.5),
    ("quantity", True),
    ("limit_ticks", 100.5),
    ("limit_ticks", Decimal("100.25")),
    ("limit_ticks", "100"),
    ("limit_ticks", None),
    ("stop_ticks", 7),
    ("contract_id", ContractId("XX/209901")),
    ("side", "both"),
    ("order_type", "iceberg"),
    ("time_in_force", "forever"),
    ("offset", "open-ish"),
    ("expire_at", dt.datetime(2026, 3, 3)),  # noqa: DTZ001 - a naive time is the bad input
    ("client_order_id", ""),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_sim_bad_field_rejected_invalid_nothing_recorded(field: str, value: Any) -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=100)
    before = _state(venue)
    setattr(order, field, value)
    result = venue.submit(order)
    events = venue.poll_events()
    assert not result.taken
    assert result.reason is Reason.INVALID_ORDER
    assert len(events) == 1
    assert isinstance(events[0], Rejected)
    assert events[0].reason is Reason.INVALID_ORDER
    assert len(events[0].message) > 10
    assert _state(venue) == before


def test_sim_not_a_broker_order_rejected_not_raised() -> None:
    venue, _ = make_sim_venue()
    result = venue.submit("buy 1 ES please")  # type: ignore[arg-type]
    assert result.reason is Reason.INVALID_ORDER


def test_sim_unsupported_order_type_rejected() -> None:
    config = SimVenueConfig(supported_order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}))
    venue, _ = make_sim_venue(config)
    venue.submit(make_order(Side.BUY, 1, OrderType.STOP, stop_ticks=120))
    (event,) = venue.poll_events()
    assert isinstance(event, Rejected)
    assert "not supported" in event.message


def test_sim_reused_client_order_id_rejected_duplicate_original_untouched() -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    first = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=90, client_order_id="DUP")
    again = make_order(Side.SELL, 5, client_order_id="DUP")
    venue.submit(first)
    result = venue.submit(again)
    assert result.reason is Reason.DUPLICATE
    working = venue.open_orders().value or ()
    assert [(o.side, o.quantity) for o in working] == [(Side.BUY, 1)]


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.integers(-5, 0),
    limit=st.one_of(st.floats(allow_nan=True), st.decimals(allow_nan=False), st.text(max_size=3)),
    tif=st.text(max_size=4),
)
def test_sim_garbage_orders_never_raise(quantity: int, limit: object, tif: str) -> None:
    venue, _ = make_sim_venue()
    for field, value in (("quantity", quantity), ("limit_ticks", limit), ("time_in_force", tif)):
        order = make_order(Side.SELL, 1, OrderType.LIMIT, limit_ticks=100)
        setattr(order, field, value)
        assert venue.submit(order).taken is False
    assert venue.open_orders().value == ()
    assert venue.counters.send_order_calls == 3


def test_sim_gtd_without_expiry_is_refused_by_shape_check() -> None:
    venue, _ = make_sim_venue()
    order = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=99)
    order.time_in_force = TimeInForce.GTD
    assert venue.submit(order).reason is Reason.INVALID_ORDER
