"""``IbVenue``: the ``VenuePort`` at Interactive Brokers, through ib_async.

ib_async runs on its own asyncio loop in a dedicated thread (``session.IbLoop``); the
port stays synchronous:

- order calls check what they can locally (contract qualified, whole lots and ticks,
  time in force, connected, read-only), then schedule the IB call on the IB thread and
  return at once (``taken``); a refusal is also an event;
- IB's raw callbacks (``session.Listener``) are converted once (``parsing``) into
  events in a queue that ``poll_events`` drains (``events.EventQueue``);
- snapshots are bounded queries (``snapshots``); connecting and reconnecting are in
  ``connection``.

Orders carry Bastion's client order id in ``orderRef`` and belong to this process's
client id (``config.client_id_for``). Fills come from execDetails, never from an
orderStatus, once per execId (IB can report an execution twice), each with its
commission when the report comes. A cancel/replace is a cancel, then the replacement
is placed when IB confirms the cancel (IB's in-place modify would keep the old
``orderRef``); if the cancel is refused, so is the replacement. A Cancelled that Bastion
did not ask for is an expiry for a DAY or GTD order, otherwise an unsolicited cancel.
Reports for orders Bastion did not place (another client id, a manual TWS order) keep
IB's facts and a foreign client order id, so the OMS flags them and the instrument locks.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from decimal import Decimal

from ib_async import Contract, Execution, Order, OrderState

from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, ExecId
from bastion.domain.orders import BrokerOrder, validate_order_shape
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    Rejected,
    TradeCorrection,
    VenueAnomaly,
    VenueEvent,
)
from bastion.errors import UserError
from bastion.venues.ib.config import IbConfig
from bastion.venues.ib.connection import now_utc
from bastion.venues.ib.errors import ErrorKind, known_code, reject_reason
from bastion.venues.ib.events import EventQueue
from bastion.venues.ib.instruments import ContractBook
from bastion.venues.ib.parsing import (
    FOREIGN_PREFIX,
    StatusClass,
    classify_status,
    client_order_id_for,
    fill_from_execution,
    ib_order,
    venue_order_id,
)
from bastion.venues.ib.session import Listener
from bastion.venues.ib.snapshots import IbSnapshots, commission_value
from bastion.venues.port import OrderApiCounters, OrderCallResult, RateLimits

__all__ = ["GLOBAL_CANCEL_CONFIRMATION", "IbVenue"]

log = logging.getLogger("bastion.ib.venue")

GLOBAL_CANCEL_CONFIRMATION = "CANCEL_EVERY_ORDER_IN_THE_ACCOUNT"
"""What ``global_cancel`` must be given: it cancels every client's orders, manual ones too."""

IB_RATE_LIMITS = RateLimits(orders_per_second=40.0, order_burst=10, queries_per_second=5.0)
"""IB allows about 50 messages a second per client (ib_async throttles at 45); orders
take 40 of them, leaving room for queries and cancels."""


@dataclass(slots=True)
class _Entry:
    """One order as the adapter knows it: ours (with the order) or learned from IB."""

    coid: ClientOrderId
    order: BrokerOrder | None = None
    client_id: int | None = None
    order_id: int | None = None
    perm_id: int = 0
    time_in_force: TimeInForce | None = None
    acked: bool = False
    terminal: bool = False
    placed: bool = False
    cancel_requested: bool = False
    replacement: ClientOrderId | None = None
    """A new order waiting for this one's cancel (cancel/replace)."""
    replaces: ClientOrderId | None = None
    ib_order: Order | None = None
    last_error: str = ""
    last_code: int = 0
    filled: int | None = None
    """What IB's orderStatus last said was filled; ``None`` until one arrives."""
    held_cancel: bool = False
    """Ended by error 202; its Canceled waits for the orderStatus that carries filled."""


class IbVenue(IbSnapshots):
    def __init__(self, config: IbConfig, specs: dict[ContractId, ContractSpec]) -> None:
        super().__init__(config, ContractBook(specs))
        self._counters = OrderApiCounters()
        self._events = EventQueue(config.commission_wait)
        self._lock = threading.RLock()
        self._orders: dict[ClientOrderId, _Entry] = {}
        self._by_ids: dict[tuple[int, int], ClientOrderId] = {}
        self._by_perm: dict[int, ClientOrderId] = {}
        self._seen_exec: set[str] = set()
        self._exec_bases: dict[str, str] = {}
        """An execId without its correction suffix -> the first execId reported with it."""
        self._commissions = {}
        self._summary_rows = {}
        self.duplicate_executions = 0
        """Live execDetails dropped because their execId was already reported."""
        self.unmatched_reports = 0
        """orderStatus reports for orders the adapter never saw (no openOrder, not ours)."""
        self.unreadable_reports = 0

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def counters(self) -> OrderApiCounters:
        return self._counters

    @property
    def rate_limits(self) -> RateLimits:
        return IB_RATE_LIMITS

    def _listener(self) -> Listener:
        return self

    # -- the order table ----------------------------------------------------------------
    def remember(self, order: BrokerOrder) -> None:
        """An order journaled before a restart: IB's reports about it (found by its
        ``orderRef``) map back to it, and it can be canceled once IB lists it."""
        with self._lock:
            entry = self._orders.setdefault(order.client_order_id, _Entry(order.client_order_id))
            entry.order = entry.order or order
            entry.time_in_force = order.time_in_force
            entry.placed = True
            if order.venue_order_id and order.venue_order_id.isdigit():
                entry.perm_id = int(order.venue_order_id)
                self._by_perm[entry.perm_id] = entry.coid

    def _learn(self, coid: ClientOrderId, client_id: int, order_id: int, perm_id: int) -> _Entry:
        with self._lock:
            entry = self._orders.get(coid)
            if entry is None:
                entry = self._orders[coid] = _Entry(coid, placed=True)
            if order_id > 0:
                entry.client_id, entry.order_id = client_id, order_id
                self._by_ids[(client_id, order_id)] = coid
            if perm_id:
                entry.perm_id = perm_id
                self._by_perm[perm_id] = coid
            return entry

    def _find(self, client_id: int, order_id: int, perm_id: int) -> _Entry | None:
        with self._lock:
            coid = self._by_perm.get(perm_id) if perm_id else None
            coid = coid or self._by_ids.get((client_id, order_id))
            return self._orders.get(coid) if coid is not None else None

    # -- order calls (caller's thread) ------------------------------------------------------
    def _invalid(self, order: BrokerOrder) -> str | None:
        problem = self.contracts.problem(order.contract_id)
        if problem is not None:
            return problem
        if not isinstance(order.quantity, int) or order.quantity <= 0:
            return f"quantity must be a positive whole number, got {order.quantity!r}"
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks)):
            if ticks is not None and (not isinstance(ticks, int) or isinstance(ticks, bool)):
                return f"{label} price {ticks!r} is not a whole number of ticks"
        if order.time_in_force in self.config.unsupported_time_in_force:
            return f"time in force {order.time_in_force} is not supported here"
        return validate_order_shape(
            order.order_type,
            order.limit_ticks,
            order.stop_ticks,
            order.time_in_force,
            order.expire_at,
        )

    def _refuse(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.push(
            Rejected(client_order_id=coid, reason=reason, message=message, timestamp=now_utc())
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _refuse_cancel(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.push(
            CancelRejected(
                client_order_id=coid, reason=reason, message=message, timestamp=now_utc()
            )
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _down_message(self) -> str:
        why = self.last_disconnect_reason or "not connected"
        return f"{self.name} is disconnected ({why}); nothing was sent"

    def _read_only_message(self) -> str:
        return f"{self.name} is read-only ({self.config.role}): order calls are refused"

    def _prepare(self, order: BrokerOrder) -> Order | tuple[Reason, str]:
        """The IB order, or why it cannot go (reason, message)."""
        problem = self._invalid(order)
        if problem is not None:
            return Reason.INVALID_ORDER, problem
        if not self.is_connected:
            return Reason.CONNECTION, self._down_message()
        limit = None
        through = self.config.market_as_limit_ticks
        if order.order_type is OrderType.MARKET and through is not None:
            quote = self.market.quote(order.contract_id)
            touch = None
            if quote is not None:
                touch = quote.ask_ticks if order.side is Side.BUY else quote.bid_ticks
            if touch is None:
                return (
                    Reason.RISK_LIMIT,
                    (
                        f"{order.contract_id}: market orders go as marketable limits and there is"
                        " no quote to price one"
                    ),
                )
            limit = touch + through if order.side is Side.BUY else touch - through
        return ib_order(
            order, self.contracts, account=self.config.account, marketable_limit_ticks=limit
        )

    def submit(self, order: BrokerOrder) -> OrderCallResult:
        coid = order.client_order_id
        if self.config.read_only:
            return self._refuse(coid, Reason.READ_ONLY, self._read_only_message())
        self._counters.send_order_calls += 1
        prepared = self._prepare(order)
        if isinstance(prepared, tuple):
            return self._refuse(coid, *prepared)
        with self._lock:
            if coid in self._orders:
                return self._refuse(coid, Reason.DUPLICATE, f"{coid} was already sent to IB")
            entry = self._orders[coid] = _Entry(
                coid, order=order, time_in_force=order.time_in_force, ib_order=prepared
            )
        assert self._loop is not None  # noqa: S101 - connected implies a loop
        self._loop.call(self._place, entry)
        return OrderCallResult(client_order_id=coid, taken=True)

    def cancel(self, client_order_id: ClientOrderId) -> OrderCallResult:
        if self.config.read_only:
            return self._refuse_cancel(client_order_id, Reason.READ_ONLY, self._read_only_message())
        self._counters.cancel_order_calls += 1
        with self._lock:
            entry = self._orders.get(client_order_id)
            problem = self._cancel_problem(entry)
            if problem is not None:
                return self._refuse_cancel(client_order_id, *problem)
            assert entry is not None  # noqa: S101 - _cancel_problem checked it
            if entry.replaces is not None and not entry.placed:
                # A replacement still waiting for the old order's cancel: it never goes.
                entry.terminal = True
                old = self._orders.get(entry.replaces)
                if old is not None:
                    old.replacement = None
                self._events.push(
                    Canceled(client_order_id=client_order_id, timestamp=now_utc(), filled=0)
                )
                return OrderCallResult(client_order_id=client_order_id, taken=True)
            entry.cancel_requested = True
        assert self._loop is not None  # noqa: S101 - connected implies a loop
        self._loop.call(self._send_cancel, entry)
        return OrderCallResult(client_order_id=client_order_id, taken=True)

    def _cancel_problem(self, entry: _Entry | None) -> tuple[Reason, str] | None:
        if entry is None:
            return Reason.INVALID_ORDER, "no such order at IB for this session (unknown order)"
        if entry.terminal:
            return Reason.INVALID_ORDER, f"{entry.coid} is no longer working"
        if not self.is_connected:
            return Reason.CONNECTION, self._down_message()
        if entry.client_id is not None and entry.client_id != self.config.client_id:
            return (
                Reason.INVALID_ORDER,
                (
                    f"{entry.coid} belongs to IB client {entry.client_id}, not this one"
                    f" ({self.config.client_id}): only that client or a global cancel can cancel"
                    " it"
                ),
            )
        if entry.order_id is None and entry.placed:
            return Reason.INVALID_ORDER, f"IB has not yet listed {entry.coid} to this session"
        return None

    def modify(self, client_order_id: ClientOrderId, replacement: BrokerOrder) -> OrderCallResult:
        new = replacement.client_order_id
        if self.config.read_only:
            self._refuse_cancel(client_order_id, Reason.READ_ONLY, self._read_only_message())
            return self._refuse(new, Reason.READ_ONLY, self._read_only_message())
        self._counters.cancel_order_calls += 1
        self._counters.send_order_calls += 1
        prepared = self._prepare(replacement)
        if isinstance(prepared, tuple):
            return self._refuse(new, *prepared)
        with self._lock:
            old = self._orders.get(client_order_id)
            problem = self._cancel_problem(old)
            if problem is not None or old is None:
                reason, message = problem or (Reason.INVALID_ORDER, "unknown order")
                self._refuse_cancel(client_order_id, reason, message)
                return self._refuse(new, reason, f"replace failed: {message}")
            if new in self._orders:
                return self._refuse(new, Reason.DUPLICATE, f"{new} was already sent to IB")
            self._orders[new] = _Entry(
                new,
                order=replacement,
                time_in_force=replacement.time_in_force,
                replaces=client_order_id,
                ib_order=prepared,
            )
            old.replacement = new
            old.cancel_requested = True
        assert self._loop is not None  # noqa: S101 - connected implies a loop
        self._loop.call(self._send_cancel, old)
        return OrderCallResult(client_order_id=new, taken=True)

    def global_cancel(self, confirmation: str) -> bool:
        """Cancel every open order in the account, every client's and manual ones
        (``reqGlobalCancel``). ``confirmation`` must be ``GLOBAL_CANCEL_CONFIRMATION``:
        the operator's explicit yes. ``False`` when not connected; outcomes are events."""
        if confirmation != GLOBAL_CANCEL_CONFIRMATION:
            raise UserError(
                "a global cancel cancels every order in the IB account, other programs' and"
                f" manual ones too; confirm it with {GLOBAL_CANCEL_CONFIRMATION}"
            )
        if self.config.read_only:
            raise UserError(self._read_only_message())
        if not self.is_connected or self._loop is None:
            return False
        self._counters.cancel_order_calls += 1
        with self._lock:
            for entry in self._orders.values():
                if not entry.terminal:
                    entry.cancel_requested = True
        self._loop.call(self._send_global_cancel)
        return True

    # -- order calls on the IB thread --------------------------------------------------
    def _place(self, entry: _Entry) -> None:
        ib = self._ib
        qualified = entry.order and self.contracts.qualified(entry.order.contract_id)
        if ib is None or not self.is_connected or not qualified or entry.ib_order is None:
            self._reject_down(entry)
            return
        order_id = ib.client.getReqId()
        entry.ib_order.orderId = order_id
        entry.ib_order.clientId = self.config.client_id
        self._learn(entry.coid, self.config.client_id, order_id, 0)
        try:
            ib.client.placeOrder(order_id, qualified.ib_contract(), entry.ib_order)
        except ConnectionError:
            self._reject_down(entry)
            return
        entry.placed = True  # a cancel asked for meanwhile is next on this thread

    def _reject_down(self, entry: _Entry) -> None:
        """The order could not go: the connection is down (a reject, never a silence)."""
        entry.terminal = True
        self._events.push(
            Rejected(
                client_order_id=entry.coid,
                reason=Reason.CONNECTION,
                message=self._down_message(),
                timestamp=now_utc(),
            )
        )

    def _send_cancel(self, entry: _Entry) -> None:
        ib = self._ib
        if entry.order_id is None:
            return  # not placed yet: _place cancels it right after
        try:
            if ib is None:
                raise ConnectionError("not connected")  # noqa: TRY301 - one refusal path
            ib.client.cancelOrder(entry.order_id, "")
        except ConnectionError:
            entry.cancel_requested = False
            self._events.push(
                CancelRejected(
                    client_order_id=entry.coid,
                    reason=Reason.CONNECTION,
                    message=self._down_message(),
                    timestamp=now_utc(),
                )
            )
            self._fail_replacement(entry, self._down_message())

    def _send_global_cancel(self) -> None:
        if self._ib is not None:
            self._ib.reqGlobalCancel()

    def _fail_replacement(self, old: _Entry, why: str) -> None:
        new = old.replacement
        old.replacement = None
        if new is None:
            return
        entry = self._orders.get(new)
        if entry is not None:
            entry.terminal = True
        self._events.push(
            Rejected(
                client_order_id=new,
                reason=Reason.INVALID_ORDER,
                message=f"replace failed: {why}",
                timestamp=now_utc(),
            )
        )

    # -- IB's reports (IB thread) -----------------------------------------------------------
    def on_open_order(
        self, contract: Contract, order: Order, state: OrderState, *, requested: bool
    ) -> None:
        coid = client_order_id_for(order.orderRef, order.clientId, order.orderId, order.permId)
        entry = self._learn(coid, order.clientId, order.orderId, order.permId)
        if entry.time_in_force is None:
            entry.time_in_force = next(
                (t for t in TimeInForce if t.value.upper() == order.tif), None
            )
        if coid.startswith(FOREIGN_PREFIX) and not requested:
            log.warning(
                "IB %s: an order Bastion did not place is working (%s %s %s, client %s): the"
                " instrument will be locked",
                self.name, order.action, order.totalQuantity, contract.localSymbol, order.clientId,
            )  # fmt: skip
        if not requested:
            self._apply_status(entry, classify_status(state.status), state.status)

    def on_order_status(
        self, order_id: int, status: str, filled: float, perm_id: int, client_id: int
    ) -> None:
        entry = self._find(client_id, order_id, perm_id)
        if entry is None:
            self.unmatched_reports += 1
            log.warning(
                "IB %s: orderStatus %s for order %s of client %s (permId %s), which no openOrder"
                " named: left to the next reconciliation",
                self.name, status, order_id, client_id, perm_id,
            )  # fmt: skip
            return
        if perm_id:
            self._learn(entry.coid, client_id, order_id, perm_id)
        if math.isfinite(filled) and filled >= 0:  # IB sends a float
            entry.filled = max(entry.filled or 0, int(filled))
        kind = classify_status(status)
        if entry.held_cancel and kind is StatusClass.CANCELED:
            entry.held_cancel = False
            self._events.complete(entry.coid, self._cancel_event(entry))
            return
        self._apply_status(entry, kind, status)

    def _apply_status(self, entry: _Entry, kind: StatusClass, status: str) -> None:
        if entry.terminal:
            return
        vid = venue_order_id(entry.perm_id)
        if kind is StatusClass.WORKING and not entry.acked and vid is not None:
            entry.acked = True
            self._events.push(
                Acknowledged(client_order_id=entry.coid, venue_order_id=vid, timestamp=now_utc())
            )
        elif kind is StatusClass.CANCELED:
            self._finish_canceled(entry)
        elif kind is StatusClass.INACTIVE:
            if entry.acked:
                self._finish_canceled(entry)
            else:
                self._reject(entry, entry.last_code, entry.last_error or "IB set it Inactive")
        elif kind is StatusClass.UNKNOWN:
            self.unreadable_reports += 1
            log.error(
                "IB %s: order %s has status %r, unknown to Bastion", self.name, entry.coid, status
            )

    def _finish_canceled(self, entry: _Entry, *, held: bool = False) -> None:
        """The order is over at IB. From error 202 (``held``) its event waits for the
        orderStatus IB sends next, whose filled count may include fills still on their
        way; the OMS then waits for them instead of closing the order short."""
        if entry.terminal:
            return
        entry.terminal = True
        if held:
            entry.held_cancel = True
            self._events.push_held(entry.coid, self._cancel_event(entry))
        else:
            self._events.push(self._cancel_event(entry))
        new = entry.replacement
        entry.replacement = None
        if new is not None and (replacement := self._orders.get(new)) is not None:
            self._place(replacement)

    def _cancel_event(self, entry: _Entry) -> Canceled | Expired:
        vid = venue_order_id(entry.perm_id)
        now = now_utc()
        expiring = entry.time_in_force in {TimeInForce.DAY, TimeInForce.GTD}
        if not entry.cancel_requested and expiring:
            return Expired(
                client_order_id=entry.coid, timestamp=now, venue_order_id=vid, filled=entry.filled
            )
        return Canceled(
            client_order_id=entry.coid,
            timestamp=now,
            venue_order_id=vid,
            unsolicited=not entry.cancel_requested,
            filled=entry.filled,
        )

    def _reject(self, entry: _Entry, code: int, text: str) -> None:
        entry.terminal = True
        self._events.push(
            Rejected(
                client_order_id=entry.coid,
                reason=reject_reason(code, text) if code else Reason.UNKNOWN,
                message=f"IB {code}: {text}" if code else text,
                timestamp=now_utc(),
                venue_order_id=venue_order_id(entry.perm_id),
            )
        )

    def on_execution(self, contract: Contract, execution: Execution, *, requested: bool) -> None:
        if requested:
            return  # an answer to reqExecutions: the snapshot reads it
        exec_id = execution.execId
        with self._lock:
            if exec_id in self._seen_exec:
                self.duplicate_executions += 1
                log.info("IB %s: execution %s reported again: dropped", self.name, exec_id)
                return
            self._seen_exec.add(exec_id)
            base = exec_id.rpartition(".")[0] or exec_id
            first = self._exec_bases.setdefault(base, exec_id)
        fill = fill_from_execution(execution, contract, self.contracts, Decimal(0))
        if fill is None and first != exec_id:
            self.unreadable_reports += 1
            self._events.push(  # the engine reconciles against the venue's positions now
                VenueAnomaly(
                    kind="unreadable_report",
                    message=f"IB execution {exec_id} corrects {first} but cannot be read"
                    f" ({execution.shares} shares)",
                    timestamp=now_utc(),
                    exec_id=ExecId(exec_id),
                )
            )
            return
        if fill is None:
            self.unreadable_reports += 1
            log.error(
                "IB %s: execution %s in %s cannot be read (a contract this profile does not"
                " trade?): not reported",
                self.name, exec_id, contract.localSymbol or contract.symbol,
            )  # fmt: skip
            return
        self._learn(fill.client_order_id, execution.clientId, execution.orderId, execution.permId)
        if first != exec_id:
            # IB: an execId differing from an earlier one only after its final period is a
            # correction of it. Taken as what that execution now is (never a second fill);
            # the instrument locks, and the position reconciliation shows the truth.
            log.warning(
                "IB %s: execution %s corrects %s (%s %s %s): the instrument will be locked",
                self.name, exec_id, first, fill.side, fill.quantity, fill.contract_id,
            )  # fmt: skip
            self._events.push(
                TradeCorrection(
                    exec_id=fill.exec_id,
                    exec_ref_id=ExecId(first),
                    bust=False,
                    quantity=fill.quantity,
                    price_ticks=fill.price_ticks,
                    timestamp=fill.timestamp,
                    client_order_id=fill.client_order_id,
                    venue_order_id=fill.venue_order_id,
                )
            )
            return
        if fill.client_order_id.startswith(FOREIGN_PREFIX):
            log.warning(
                "IB %s: a fill for an order Bastion did not place (%s %s %s): the instrument"
                " will be locked",
                self.name, fill.side, fill.quantity, fill.contract_id,
            )  # fmt: skip
        self._events.push_fill(fill, self._commissions.get(exec_id))

    def on_commission(self, exec_id: str, commission: float) -> None:
        value = commission_value(commission)
        self._commissions[exec_id] = value
        self._events.attach_commission(exec_id, value)

    def on_error(self, req_id: int, code: int, text: str) -> None:
        if self.connection_error(req_id, code, text):
            return
        row = known_code(code)
        kind = row.kind if row is not None else None
        with self._lock:
            coid = self._by_ids.get((self.config.client_id, req_id)) if req_id > 0 else None
            entry = self._orders.get(coid) if coid is not None else None
        if entry is None:
            level = logging.DEBUG if kind is ErrorKind.INFO else logging.WARNING
            log.log(
                level if row is not None else logging.ERROR, "IB %s: %s %s", self.name, code, text
            )
            return
        entry.last_code, entry.last_error = code, text
        if kind in {ErrorKind.ORDER_REJECTED, ErrorKind.CONTRACT_UNKNOWN}:
            if not entry.acked and not entry.terminal:
                self._reject(entry, code, text)
            else:
                log.warning("IB %s: %s on working order %s: %s", self.name, code, entry.coid, text)
        elif kind is ErrorKind.CANCEL_REJECTED:
            if entry.cancel_requested:
                entry.cancel_requested = False
                self._events.push(
                    CancelRejected(
                        client_order_id=entry.coid,
                        reason=Reason.INVALID_ORDER,
                        message=f"IB {code}: {text}",
                        timestamp=now_utc(),
                    )
                )
                self._fail_replacement(entry, f"IB {code}: {text}")
        elif kind is ErrorKind.ORDER_CANCELED:
            self._finish_canceled(entry, held=True)
        elif kind in {ErrorKind.INFO, ErrorKind.WARNING}:
            log.info("IB %s: %s on order %s: %s", self.name, code, entry.coid, text)
        else:
            log.error(
                "IB %s: %s on order %s: %s (left in flight until IB reports it)",
                self.name, code, entry.coid, text,
            )  # fmt: skip

    # -- events ---------------------------------------------------------------------------
    def sync(self) -> bool:
        """Round-trip to TWS: every message it sent before now has been read."""
        got = self._query("current time", lambda ib: ib.reqCurrentTimeAsync())
        return not isinstance(got, str)

    def poll_events(self) -> list[VenueEvent]:
        if self.config.sync_polls and self.is_connected:
            self.sync()
        return self._events.drain()
