"""Read-only and dry-run modes never reach the order API (invariant 6, R10.4, R8.3).

Invariant: through a read-only or dry-run wrapper, any sequence of order calls leaves
the wrapped venue's ``send_order_calls`` and ``cancel_order_calls`` at 0, stores
nothing at the venue, and answers each refused call with a READ_ONLY event.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.enums import Side
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import CancelRejected, Rejected
from bastion.testing.venue_stubs import make_order, make_sim_venue, quote
from bastion.venues.modes import DryRunVenue, ReadOnlyVenue, VenueMode, with_mode


@settings(max_examples=40, deadline=None)
@given(calls=st.lists(st.sampled_from(["submit", "cancel", "modify"]), max_size=12))
def test_modes_any_order_calls_counters_stay_zero(calls: list[str]) -> None:
    venue, clock = make_sim_venue()
    venue.on_quote(quote(100, 101, at=clock.now()))
    for mode in (VenueMode.READ_ONLY, VenueMode.DRY_RUN):
        wrapped = with_mode(venue, mode, clock)
        for call in calls:
            order = make_order(Side.BUY, 1)
            if call == "submit":
                wrapped.submit(order)
            elif call == "cancel":
                wrapped.cancel(order.client_order_id)
            else:
                wrapped.modify(order.client_order_id, make_order(Side.BUY, 1))
        events = wrapped.poll_events()
        assert all(isinstance(e, Rejected | CancelRejected) for e in events)
        assert all(e.reason is Reason.READ_ONLY for e in events)  # type: ignore[union-attr]
    assert venue.counters.as_dict() == {"send_order_calls": 0, "cancel_order_calls": 0}
    assert venue.open_orders().value == ()
    assert venue.positions().value == {}


def test_modes_trading_mode_is_the_venue_itself() -> None:
    venue, clock = make_sim_venue()
    assert with_mode(venue, VenueMode.TRADING, clock) is venue


def test_modes_dry_run_keeps_intended_orders_and_names_itself() -> None:
    venue, clock = make_sim_venue()
    dry = DryRunVenue(venue, clock)
    order = make_order(Side.SELL, 2)
    result = dry.submit(order)
    assert not result.taken
    assert result.reason is Reason.READ_ONLY
    assert dry.would_send == [order]
    assert dry.refused_calls == 1
    assert "dry-run" in dry.name


def test_modes_read_only_passes_queries_and_connection_through() -> None:
    venue, clock = make_sim_venue(connect=False)
    ro = ReadOnlyVenue(venue, clock)
    assert not ro.positions().is_known
    assert ro.connect()
    assert ro.is_connected
    assert ro.positions().is_known
    assert ro.account().is_known
    assert ro.fills_since(None).is_known
    assert ro.rate_limits is venue.rate_limits
    ro.disconnect()
    assert not venue.is_connected
