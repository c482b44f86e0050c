"""The fake TWS's broker: orders, executions, positions and the account, like IB keeps them.

Matching is Bastion's own simulated exchange (``bastion.venues.sim``): the broker turns
each IB order into an engine order, and each engine report into the messages TWS sends
(openOrder, orderStatus, execDetails, commissionReport, error). Orders belong to the
client id that placed them: their reports go to that client's connection, to the master
client id (if set) and, for manual TWS orders, to client 0.

Everything runs under one lock, and each message is written while it is held, so what a
connection reads is in the order the broker did it. The fault switches (``FakeFaults``)
make it do what real gateways do; each is documented where it is read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from bastion.clock import SimClock
from bastion.domain.contracts import OffTickError
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.testing.fake_tws import messages as m
from bastion.testing.fake_tws.models import FakeContract, FakeExecution, FakeOrder
from bastion.venues.sim.config import HaltPolicy, SimVenueConfig
from bastion.venues.sim.execution import SimVenue
from bastion.venues.sim.market_data import Quote, Trade

__all__ = ["Connection", "FakeBroker", "FakeFaults", "PlaceRequest"]

ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
}
TIFS = {t.value.upper(): t for t in TimeInForce}
REJECT_TEXT = {
    Reason.INSUFFICIENT_MARGIN: (
        201,
        (
            "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED"
            " POSITION YOUR EQUITY WITH LOAN VALUE MUST EXCEED THE INITIAL MARGIN"
        ),
    ),
    Reason.PRICE_OUTSIDE_BAND: (
        201,
        "Order rejected - reason:The order price is outside the daily price limits",
    ),
    Reason.MARKET_CLOSED: (201, "Order rejected - reason:The exchange is closed"),
    Reason.HALTED: (201, "Order rejected - reason:Trading is halted"),
}
SUMMARY_TAGS = (
    "NetLiquidation", "TotalCashValue", "InitMarginReq", "FullInitMarginReq",
    "MaintMarginReq", "AvailableFunds", "ExcessLiquidity", "BuyingPower",
)  # fmt: skip


class Connection(Protocol):
    """One client connection, as the broker sees it."""

    client_id: int | None
    market_data_type: int
    subscriptions: dict[int, ContractId]

    def send(self, fields: Sequence[object]) -> None: ...


@dataclass(slots=True)
class FakeFaults:
    """Fault switches. Tests set them between steps; each acts once unless it is a set."""

    clients_in_use: set[int] = field(default_factory=set)
    """Client ids TWS says are taken (error 326), as after a crash."""
    silent: set[str] = field(default_factory=set)
    """Request kinds never answered: contract_details, executions, positions,
    open_orders, completed_orders, account_summary, account_updates, current_time."""
    duplicate_exec_next: int = 0
    """The next executions are reported twice, live and in reqExecutions answers."""
    drop_on_next_order: bool = False
    """The connection drops right after the next placeOrder reaches the broker: the order
    works (and may fill) but the client hears nothing of it."""
    hide_open_order_next: int = 0
    """The next orders get orderStatus messages but never an openOrder."""
    late_fill_reports_next: int = 0
    """The next executions' reports (execDetails, commission, the orderStatus they move)
    are held back until ``release_late_fill_reports``: IB's streams race, so a cancel's
    orderStatus can count fills whose execDetails have not arrived."""
    clock_offset: dt.timedelta = dt.timedelta(0)
    """Added to the current time TWS answers (reqCurrentTime): a server clock that is off."""
    market_data: str = "live"
    """``live``; ``delayed`` (10167, then delayed ticks of type 66/67/68, data type 3);
    ``frozen`` (data type 2); ``none`` (error 354, no ticks)."""


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """The fields of a placeOrder the broker needs."""

    order_id: int
    contract: dict[str, str]
    action: str
    quantity: str
    order_type: str
    limit_price: str
    aux_price: str
    tif: str
    account: str
    order_ref: str
    good_till_date: str


def _decimal(value: str) -> Decimal | None:
    return Decimal(value) if value not in {"", "1.7976931348623157e+308"} else None


def parse_ib_time(value: str) -> dt.datetime:
    """``20260302 14:30:00 UTC``, ``20260302-14:30:00`` or ``20260302 14:30:00`` (UTC)."""
    clean = value.replace("-", " ").strip()
    parts = clean.split(" ")
    return dt.datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S").replace(tzinfo=dt.UTC)


class FakeBroker:
    def __init__(
        self,
        contracts: Sequence[FakeContract],
        *,
        accounts: Sequence[str],
        start: dt.datetime,
        manual_clock: bool,
        initial_cash: Decimal = Decimal(1_000_000),
        commission_per_contract: Decimal = Decimal("2.00"),
        unsupported_time_in_force: frozenset[str] = frozenset(),
        master_client_id: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.contracts = list(contracts)
        self.accounts = list(accounts)
        self.account = self.accounts[0]
        self.master_client_id = master_client_id
        self.manual_clock = manual_clock
        self.clock = SimClock(start)
        self.session_open = True
        tifs = frozenset(t for t in TimeInForce if t.value not in unsupported_time_in_force)
        specs = {c.contract_id: c.spec for c in self.contracts}
        self.sim = SimVenue(
            specs,
            self.clock,
            SimVenueConfig(
                name="fake-tws",
                initial_cash=initial_cash,
                commission_per_contract=commission_per_contract,
                supported_time_in_force=tifs,
                halt_policy=HaltPolicy.HOLD,  # IB holds orders in a halted contract
                provisional_ids=False,
            ),
            lambda _cid, _when: self.session_open,
        )
        self.sim.connect()
        self.faults = FakeFaults()
        self.connections: list[Connection] = []
        self.orders: dict[tuple[int, int], FakeOrder] = {}
        self.by_engine: dict[str, FakeOrder] = {}
        self.executions: list[FakeExecution] = []
        self.received: dict[str, int] = {}
        """How many placeOrder messages arrived per orderRef (a re-send shows as 2)."""
        self._perm = itertools.count(1_000_000_001)
        self._exec = itertools.count(1)
        self._late_reports: list[tuple[FakeOrder, list[Sequence[object]]]] = []
        self._solicited: set[str] = set()
        self.on_drop: Callable[[Connection], None] | None = None

    # -- time -------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        if not self.manual_clock:
            wall = dt.datetime.now(dt.UTC)
            if wall > self.clock.now():
                self.clock.advance_to(wall)
        return self.clock.now()

    # -- lookups ----------------------------------------------------------------------
    def contract_by_id(self, contract_id: ContractId) -> FakeContract:
        return next(c for c in self.contracts if c.contract_id == contract_id)

    def find_contracts(self, query: dict[str, str]) -> list[FakeContract]:
        return [c for c in self.contracts if c.matches(query)]

    def next_order_id(self, client_id: int) -> int:
        ids = [oid for (cid, oid) in self.orders if cid == client_id]
        return max(ids, default=0) + 1

    # -- routing ----------------------------------------------------------------------
    def _owners(self, order: FakeOrder) -> list[Connection]:
        wanted = {order.client_id}
        if self.master_client_id is not None:
            wanted.add(self.master_client_id)
        return [c for c in self.connections if c.client_id in wanted]

    def _to_owners(self, order: FakeOrder, *messages: Sequence[object]) -> None:
        for conn in self._owners(order):
            for fields in messages:
                conn.send(fields)

    # -- orders -----------------------------------------------------------------------
    def place(self, conn: Connection, request: PlaceRequest) -> None:
        client_id = conn.client_id if conn.client_id is not None else 0
        with self.lock:
            self.received[request.order_ref] = self.received.get(request.order_ref, 0) + 1
            if (client_id, request.order_id) in self.orders:
                conn.send(m.error(request.order_id, 103, "Duplicate order id"))
                return
            found = self.find_contracts(request.contract)
            if len(found) != 1:
                conn.send(m.error(request.order_id, 200, "No security definition has been found"))
                return
            order = self._new_order(client_id, request, found[0])
            drop = self.faults.drop_on_next_order
            self.faults.drop_on_next_order = False
            if drop:
                self._drop(conn)
            self._submit(order)

    def place_foreign(
        self,
        contract_id: ContractId,
        action: str,
        quantity: int,
        *,
        client_id: int = 0,
        order_type: str = "MKT",
        limit_price: Decimal | None = None,
        order_ref: str = "",
    ) -> FakeOrder:
        """An order Bastion did not place: another API client's, or (client 0) a manual
        order typed into TWS (order id 0, found by its permId)."""
        with self.lock:
            order_id = 0 if client_id == 0 else self.next_order_id(client_id)
            request = PlaceRequest(
                order_id=order_id, contract={"conId": str(self.contract_by_id(contract_id).con_id)},
                action=action, quantity=str(quantity), order_type=order_type,
                limit_price="" if limit_price is None else str(limit_price), aux_price="",
                tif="DAY", account=self.account, order_ref=order_ref, good_till_date="",
            )  # fmt: skip
            order = self._new_order(client_id, request, self.contract_by_id(contract_id))
            self._submit(order)
            return order

    def _new_order(self, client_id: int, r: PlaceRequest, contract: FakeContract) -> FakeOrder:
        perm_id = next(self._perm)
        engine_id = f"{client_id}.{r.order_id}" if r.order_id else f"manual.{perm_id}"
        order = FakeOrder(
            client_id=client_id,
            order_id=r.order_id,
            perm_id=perm_id,
            contract=contract,
            action=r.action,
            quantity=int(Decimal(r.quantity or "0")),
            order_type=r.order_type,
            limit_price=_decimal(r.limit_price),
            aux_price=_decimal(r.aux_price),
            tif=r.tif or "DAY",
            good_till_date=r.good_till_date,
            account=r.account or self.account,
            order_ref=r.order_ref,
            engine_id=engine_id,
        )
        self.orders[(client_id, r.order_id or perm_id)] = order
        self.by_engine[engine_id] = order
        return order

    def _engine_order(self, order: FakeOrder) -> BrokerOrder | tuple[int, str]:
        """The engine's order, or the IB error (code, text) that refuses it."""
        spec = order.contract.spec
        kind = ORDER_TYPES.get(order.order_type)
        tif = TIFS.get(order.tif)
        if kind is None:
            return 387, "Unsupported order type for this exchange and security type."
        if tif is None:
            return 111, "The TIF (Tif type) and the order type are incompatible."
        try:
            limit = order.limit_price if kind in {OrderType.LIMIT, OrderType.STOP_LIMIT} else None
            stop = order.aux_price if kind in {OrderType.STOP, OrderType.STOP_LIMIT} else None
            expire = parse_ib_time(order.good_till_date) if order.good_till_date else None
            return BrokerOrder(
                client_order_id=ClientOrderId(order.engine_id),
                contract_id=order.contract.contract_id,
                side=Side.BUY if order.action == "BUY" else Side.SELL,
                quantity=order.quantity,
                order_type=kind,
                created=self.clock.now(),
                time_in_force=tif,
                limit_ticks=None if limit is None else spec.to_ticks(limit),
                stop_ticks=None if stop is None else spec.to_ticks(stop),
                expire_at=expire,
            )
        except OffTickError:
            return (
                110,
                "The price does not conform to the minimum price variation for this contract.",
            )
        except ValueError as exc:
            return 201, f"Order rejected - reason:{exc}"

    def _submit(self, order: FakeOrder) -> None:
        self.now()
        engine = self._engine_order(order)
        if isinstance(engine, tuple):
            code, text = engine
            order.status = "Inactive"
            order.completed_at = self.clock.now()
            self._to_owners(order, m.error(order.order_id, code, text), m.order_status(order))
            return
        self.sim.submit(engine)
        self.drain()

    def cancel(self, conn: Connection, order_id: int) -> None:
        client_id = conn.client_id if conn.client_id is not None else 0
        with self.lock:
            self.now()
            order = self.orders.get((client_id, order_id))
            if order is None:
                conn.send(
                    m.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled"
                            " is not found.")
                )  # fmt: skip
                return
            self._cancel(order)

    def _cancel(self, order: FakeOrder) -> None:
        if not order.working:
            self._to_owners(
                order,
                m.error(
                    order.order_id,
                    10148,
                    f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled,"
                    f" state: {order.status}.",
                ),
            )
            return
        self._solicited.add(order.engine_id)
        self.sim.cancel(ClientOrderId(order.engine_id))
        self.drain()

    def global_cancel(self) -> None:
        with self.lock:
            self.now()
            for order in list(self.orders.values()):
                if order.working:
                    self._solicited.add(order.engine_id)
                    self.sim.cancel(ClientOrderId(order.engine_id))
            self.drain()

    # -- engine reports to IB messages ---------------------------------------------------
    def drain(self) -> None:
        with self.lock:
            for event in self.sim.poll_events():
                order = self.by_engine.get(event.client_order_id)
                if order is not None:
                    self._report(order, event)

    def _report(self, order: FakeOrder, event: VenueEvent) -> None:
        if isinstance(event, Acknowledged):
            order.status = "Submitted"
            hide = self.faults.hide_open_order_next > 0
            if hide:
                self.faults.hide_open_order_next -= 1
                self._to_owners(order, m.order_status(order))
            else:
                self._to_owners(order, m.open_order(order), m.order_status(order))
        elif isinstance(event, FillReport):
            self._fill(order, event)
        elif isinstance(event, Canceled | Expired):
            order.status = "Cancelled"
            order.completed_at = self.clock.now()
            out: list[Sequence[object]] = []
            if order.engine_id in self._solicited:
                self._solicited.discard(order.engine_id)
                out.append(m.error(order.order_id, 202, "Order Canceled - reason:"))
            out.append(m.order_status(order))
            self._to_owners(order, *out)
        elif isinstance(event, Rejected):
            code, text = REJECT_TEXT.get(event.reason, (0, ""))
            if not code:
                code, text = (
                    (111, "The TIF (Tif type) and the order type are incompatible.")
                    if "time in force" in event.message.lower()
                    else (201, f"Order rejected - reason:{event.message}")
                )
            order.status = "Inactive"
            order.rejected_text = text
            order.completed_at = self.clock.now()
            self._to_owners(order, m.error(order.order_id, code, text), m.order_status(order))
        elif isinstance(event, CancelRejected):
            self._to_owners(
                order,
                m.error(
                    order.order_id,
                    10148,
                    f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled,"
                    f" state: {order.status}.",
                ),
            )

    def _fill(self, order: FakeOrder, event: FillReport) -> None:
        fill = event.fill
        spec = order.contract.spec
        price = spec.from_ticks(fill.price_ticks)
        order.filled += fill.quantity
        order.value += price * fill.quantity
        order.last_fill_price = price
        late = order.status == "Cancelled"
        if order.remaining <= 0 and not late:
            order.status = "Filled"
            order.completed_at = self.clock.now()
        execution = FakeExecution(
            exec_id=f"0000{order.contract.con_id:x}.{next(self._exec):08x}.01.01",
            order=order,
            time=fill.timestamp,
            side="BOT" if order.action == "BUY" else "SLD",
            shares=fill.quantity,
            price=price,
            cum_qty=order.filled,
            avg_price=order.average_price,
            commission=fill.commission,
            currency=spec.currency,
        )
        if self.faults.late_fill_reports_next > 0:
            self.faults.late_fill_reports_next -= 1
            self.executions.append(execution)
            reports = [m.exec_details(-1, execution), m.commission_report(execution)]
            self._late_reports.append((order, reports))
            return
        copies = 1
        if self.faults.duplicate_exec_next > 0:
            self.faults.duplicate_exec_next -= 1
            copies = 2
        for _ in range(copies):
            self.executions.append(execution)
            self._to_owners(order, m.exec_details(-1, execution), m.commission_report(execution))
        if not late:
            self._to_owners(order, m.order_status(order))

    def correct_execution(self, exec_id: str, shares: int) -> FakeExecution:
        """Correct an execution as IB does: a new execId that differs from it only after
        the final period, saying what it now was (``shares``). The account behind the
        fake moves by the difference, at the execution's price."""
        old = next(e for e in self.executions if e.exec_id == exec_id)
        base, _, suffix = exec_id.rpartition(".")
        change = shares - old.shares
        if change:
            sign = (1 if old.side == "BOT" else -1) * (1 if change > 0 else -1)
            contract = old.order.contract
            ticks = contract.spec.to_ticks(old.price)
            self.sim.account_book.book(contract.contract_id).apply_fill(
                sign, abs(change), ticks, None
            )
        new = replace(
            old, exec_id=f"{base}.{int(suffix) + 1:02d}", shares=shares, time=self.clock.now()
        )
        self.executions.append(new)
        self._to_owners(old.order, m.exec_details(-1, new), m.commission_report(new))
        return new

    def release_late_fill_reports(self) -> None:
        """Send the execution reports ``late_fill_reports_next`` held back."""
        with self.lock:
            held, self._late_reports = self._late_reports, []
            for order, reports in held:
                self._to_owners(order, *reports)

    # -- market -----------------------------------------------------------------------
    def set_quote(
        self, contract_id: ContractId, bid: int, ask: int, bid_size: int = 10, ask_size: int = 10
    ) -> None:
        with self.lock:
            now = self.now()
            self.sim.on_quote(
                Quote(
                    contract_id=contract_id,
                    bid_ticks=bid,
                    ask_ticks=ask,
                    bid_size=bid_size,
                    ask_size=ask_size,
                    timestamp=now,
                )
            )
            self.send_quotes(contract_id)
            self.drain()

    def print_trade(self, contract_id: ContractId, price: int, size: int) -> None:
        with self.lock:
            now = self.now()
            self.sim.on_trade(
                Trade(contract_id=contract_id, price_ticks=price, size=size, timestamp=now)
            )
            spec = self.contract_by_id(contract_id).spec
            for conn in self.connections:
                for req_id, cid in conn.subscriptions.items():
                    if cid == contract_id and self.faults.market_data != "none":
                        kind = 68 if self._delayed(conn) else 4
                        conn.send(m.tick_price(req_id, kind, spec.from_ticks(price), size))
            self.drain()

    def _delayed(self, conn: Connection) -> bool:
        return self.faults.market_data == "delayed" or conn.market_data_type in {3, 4}

    def send_quotes(self, contract_id: ContractId, only: Connection | None = None) -> None:
        quote = self.sim.market_quote(contract_id)
        if quote is None or self.faults.market_data == "none":
            return
        spec = self.contract_by_id(contract_id).spec
        for conn in [only] if only is not None else self.connections:
            delayed = self._delayed(conn)
            for req_id, cid in conn.subscriptions.items():
                if cid != contract_id:
                    continue
                bid_type, ask_type = (66, 67) if delayed else (1, 2)
                conn.send(
                    m.tick_price(req_id, bid_type, spec.from_ticks(quote.bid_ticks), quote.bid_size)
                )
                conn.send(
                    m.tick_price(req_id, ask_type, spec.from_ticks(quote.ask_ticks), quote.ask_size)
                )

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(dt.timedelta(seconds=seconds))
            self.sim.advance()
            self.drain()

    def end_of_day(self) -> None:
        with self.lock:
            self.now()
            self.sim.end_of_day()
            self.drain()

    # -- snapshots --------------------------------------------------------------------
    def positions(self) -> list[tuple[FakeContract, int]]:
        books = self.sim.positions().value or {}
        return [
            (self.contract_by_id(cid), record.net)
            for cid, record in sorted(books.items())
            if record.net
        ]

    def account_values(self) -> dict[str, Decimal]:
        account = self.sim.account().value
        assert account is not None  # noqa: S101 - the engine behind the fake is always up
        return {
            "NetLiquidation": account.equity,
            "TotalCashValue": account.equity,
            "InitMarginReq": account.margin_used,
            "FullInitMarginReq": account.margin_used,
            "MaintMarginReq": account.margin_used,
            "AvailableFunds": account.margin_available,
            "ExcessLiquidity": account.margin_available,
            "BuyingPower": account.margin_available * 4,
        }

    def executions_since(self, client_id: int, since: dt.datetime | None) -> list[FakeExecution]:
        return [
            e
            for e in self.executions
            if (client_id in (0, e.order.client_id)) and (since is None or e.time >= since)
        ]

    # -- connections ------------------------------------------------------------------
    def _drop(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        if self.on_drop is not None:
            self.on_drop(conn)
