"""Opt-in checks against a real IB paper TWS or Gateway (run them before going live).

Invariant: what the fake TWS proves holds at the real broker too: the login is a paper
login whose accounts fit the profile, the contract qualifies and matches the bundled
spec, every snapshot is known, live quotes arrive, an order carries Bastion's id in
orderRef and cancels cleanly, and a second client on the same id is refused (326).

They run only with ``BASTION_BROKER_TESTS=1`` and the connection set in the
environment (see docs/ib.md, "Checks against a real paper account"):
``BASTION_IB_PORT`` (7497 or 4002), ``BASTION_IB_ACCOUNT`` (DU...), optional
``BASTION_IB_HOST`` (127.0.0.1), ``BASTION_IB_CLIENT_ID`` (base id, default 90) and
``BASTION_IB_CONTRACT`` (default SP500_micro/<next quarterly month>).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ContractId
from bastion.domain.venue_events import Acknowledged, Canceled
from bastion.marketdata.specs import SpecRegistry
from bastion.testing.venue_stubs import make_order
from bastion.venues.ib.config import IbConfig
from bastion.venues.ib.errors import ClientIdInUse
from bastion.venues.ib.execution import IbVenue

pytestmark = pytest.mark.broker

ENABLED = os.environ.get("BASTION_BROKER_TESTS") == "1"
MISSING = [v for v in ("BASTION_IB_PORT", "BASTION_IB_ACCOUNT") if not os.environ.get(v)]
if not ENABLED or MISSING:
    pytest.skip(
        "needs a real IB paper TWS or Gateway: set BASTION_BROKER_TESTS=1"
        + (f" and {', '.join(MISSING)}" if MISSING else ""),
        allow_module_level=True,
    )


def _next_quarter() -> str:
    today = dt.datetime.now(dt.UTC).date()
    month = next(
        m for m in (3, 6, 9, 12, 15) if m > today.month or (m == today.month and today.day < 10)
    )
    year = today.year + (month - 1) // 12
    return f"{year}{(month - 1) % 12 + 1:02d}"


CONTRACT = ContractId(os.environ.get("BASTION_IB_CONTRACT") or f"SP500_micro/{_next_quarter()}")


def _venue(client_id: int) -> IbVenue:
    instrument = CONTRACT.split("/", 1)[0]
    return IbVenue(
        IbConfig(
            host=os.environ.get("BASTION_IB_HOST", "127.0.0.1"),
            port=int(os.environ["BASTION_IB_PORT"]),
            client_id=client_id,
            account=os.environ["BASTION_IB_ACCOUNT"],
            paper=True,
            sync_polls=True,
            connect_timeout=10.0,
            query_timeout=10.0,
        ),
        {CONTRACT: SpecRegistry.bundled()[instrument].contract},
    )


def _until(venue: IbVenue, kind: type, seconds: float = 15.0) -> bool:
    """Poll (each poll a round trip to TWS) until an event of ``kind`` comes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(isinstance(e, kind) for e in venue.poll_events()):
            return True
        time.sleep(0.2)  # a real broker: its answer comes from IB's servers
    return False


BASE = int(os.environ.get("BASTION_IB_CLIENT_ID", "90"))


@pytest.fixture(scope="module")
def venue() -> Iterator[IbVenue]:
    ib = _venue(BASE)
    assert ib.connect(), ib.last_disconnect_reason
    try:
        yield ib
    finally:
        ib.disconnect()


def test_broker_ib_login_and_contract_fit_the_profile(venue: IbVenue) -> None:
    assert all(a.startswith(("DU", "DF")) for a in venue.managed_accounts)
    assert venue.contracts.problem(CONTRACT) is None, venue.contracts.problems


def test_broker_ib_every_snapshot_is_known(venue: IbVenue) -> None:
    for snapshot in (
        venue.positions(),
        venue.open_orders(),
        venue.fills_since(None),
        venue.account(),
    ):
        assert snapshot.is_known, snapshot.reason


def test_broker_ib_live_quotes_arrive(venue: IbVenue) -> None:
    assert venue.wait_for(lambda: venue.market.quote(CONTRACT) is not None, timeout=15)
    assert venue.market.data_type(CONTRACT) == 1, "no live data: the market data subscription"


def test_broker_ib_far_limit_order_carries_our_id_and_cancels(venue: IbVenue) -> None:
    assert venue.wait_for(lambda: venue.market.quote(CONTRACT) is not None, timeout=15)
    quote = venue.market.quote(CONTRACT)
    assert quote is not None
    assert quote.bid_ticks is not None
    order = make_order(
        Side.BUY, 1, OrderType.LIMIT, limit_ticks=quote.bid_ticks - 200, contract_id=CONTRACT
    )
    assert venue.submit(order).taken
    assert _until(venue, Acknowledged)
    listed = venue.open_orders().value or ()
    assert order.client_order_id in {o.client_order_id for o in listed}
    assert venue.cancel(order.client_order_id).taken
    assert _until(venue, Canceled)


def test_broker_ib_same_client_id_is_refused(venue: IbVenue) -> None:
    second = _venue(BASE)
    try:
        with pytest.raises(ClientIdInUse):
            second.connect()
    finally:
        second.disconnect()
