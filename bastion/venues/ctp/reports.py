"""The reports half of the CTP adapter: CTP's order and trade reports into Bastion's events.

What CTP sends is applied here, on the caller's thread (``link.pump``):

- an order report finds its leg by (FrontID, SessionID, OrderRef), then by (ExchangeID,
  OrderSysID), then by a venue id ``remember`` was told, then in the order map other
  sessions wrote; what maps to none is foreign. Canceled with InsertRejected is a
  reject. A status code CTP has not defined halts the adapter, the report kept;
- a Bastion order is acknowledged once (its first accepted leg), ends when every leg has
  ended and every traded lot's trade has come: filled, rejected (every leg refused, nothing
  traded), canceled (asked, or unsolicited), or expired (canceled after the close);
- a trade maps through (ExchangeID, OrderSysID), counts once per (ExchangeID, TradeID,
  Direction), moves the books when this session sent it, and is a fill of the Bastion
  order; a trade whose order is not Bastion's is foreign: reported as a fill for no
  Bastion order (the OMS calls it foreign), listed and logged; a trade that came before
  its order report waits for it (and is foreign if it never maps, after recovery).
"""

from __future__ import annotations

import abc
import collections
import datetime as dt
import functools
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bastion.clock import Clock
from bastion.domain.contracts import OffTickError
from bastion.domain.enums import OffsetFlag, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId
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
from bastion.marketdata.calendars import CalendarCoverageError, china_days
from bastion.venues.ctp import codes
from bastion.venues.ctp import parsing as p
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.errors import reason_for
from bastion.venues.ctp.instruments import CtpContract, CtpContracts, exchange_time
from bastion.venues.ctp.link import CtpLink
from bastion.venues.ctp.market_data import CtpMarket
from bastion.venues.ctp.offsets import Book
from bastion.venues.ctp.orders import (
    ClientState,
    LegState,
    OrderMap,
    Triple,
    provisional_id,
    sys_key,
    venue_id_of,
)
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort
from bastion.venues.ctp.runtime import Binding
from bastion.venues.port import OrderApiCounters, OrderCallResult

__all__ = ["FOREIGN_PREFIX", "CtpReports", "ref_key"]

log = logging.getLogger("bastion.ctp")

FOREIGN_PREFIX = "ctp-foreign:"
_CLOSED = {codes.InstrumentStatus.CLOSED, codes.InstrumentStatus.BEFORE_TRADING}


def ref_key(order_ref: str) -> str:
    """OrderRef as a key: counters may pad it with spaces or zeros."""
    return order_ref.strip().lstrip("0") or "0"


@functools.cache
def _previous_trading_day(trading_day: str) -> dt.date | None:
    try:
        day = dt.datetime.strptime(trading_day, "%Y%m%d").date()  # noqa: DTZ007 - a date only
        days = china_days()
        for back in range(1, 20):
            candidate = day - dt.timedelta(days=back)
            if days.is_trading_day(candidate):
                return candidate
    except (ValueError, CalendarCoverageError):
        return None
    return None


class CtpReports(CtpLink, abc.ABC):
    """Adapter state and what CTP reports; ``CtpVenue`` adds the order calls."""

    def __init__(
        self,
        config: CtpConfig,
        binding: Binding,
        clock: Clock,
        contracts: CtpContracts,
        trader_port: Callable[[], CtpTraderPort],
        *,
        md_port: Callable[[], CtpMdPort] | None = None,
    ) -> None:
        super().__init__(config, binding, clock, trader_port, md_port)
        self.contracts = contracts
        self._market = CtpMarket(contracts)
        self._counters = OrderApiCounters()
        self._events: collections.deque[VenueEvent] = collections.deque()
        self.clients: dict[ClientOrderId, ClientState] = {}
        self._by_triple: dict[Triple, LegState] = {}
        self._by_sys: dict[tuple[str, str], LegState] = {}
        self._remembered: dict[str, ClientOrderId] = {}
        self.books: dict[ContractId, Book] = {c.contract_id: Book() for c in contracts.all()}
        self._trade_keys: set[tuple[str, str, str]] = set()
        self.fills: list[Fill] = []
        self.foreign_orders: dict[Triple, p.OrderReport] = {}
        self._foreign_sys: set[tuple[str, str]] = set()
        self.foreign_trades: list[p.TradeReport] = []
        self._parked: list[p.TradeReport] = []
        self.duplicate_trades = 0
        self.halt_reason = ""
        self.order_map = OrderMap(config.order_map_path)
        self._map_size = -1
        self._day = ""
        self._reported: dict[str, int] = {}

    def _now(self) -> dt.datetime:
        return self.clock.now()

    # -- applying what CTP sent ---------------------------------------------------------
    def apply(self, record: object) -> None:
        if isinstance(record, p.OrderReport):
            self._on_order(record)
        elif isinstance(record, p.TradeReport):
            self._on_trade(record)
            self._resolve_parked(final=False)
        elif isinstance(record, p.OrderInsertError):
            self._on_insert_error(record)
        elif isinstance(record, p.OrderActionError):
            self._on_action_error(record)
        elif isinstance(record, p.DepthQuote):
            contract = self.contracts.by_symbol(record.instrument_id)
            if contract is not None:
                self._market.on_quote(contract, record, self._now())
                self._tick_time(record)
        elif isinstance(record, p.StatusReport):
            self._market.on_status(record)

    def _tick_time(self, quote: p.DepthQuote) -> None:
        """A tick whose exchange time moved since the contract's last one was made just
        now: the exchange's clock. The first tick of a contract after subscribing (the
        last snapshot, maybe hours old) and a repeat of the same time are not."""
        stamp = (quote.update_time, quote.update_millisec)
        before = self._tick_stamps.get(quote.instrument_id)
        self._tick_stamps[quote.instrument_id] = stamp
        if before is not None and stamp != before:
            self.note_exchange_time(quote.update_time, quote.update_millisec)

    def _halt(self, why: str) -> None:
        if not self.halt_reason:
            self.halt_reason = why
        self.problems.append(why)
        log.error("CTP %s: HALTED: %s", self.name, why)

    def _find_leg(self, report: p.OrderReport) -> LegState | None:
        triple = (report.front_id, report.session_id, ref_key(report.order_ref))
        leg = self._by_triple.get(triple)
        if leg is None and report.order_sys_id.strip():
            leg = self._by_sys.get(sys_key(report.exchange_id, report.order_sys_id))
        if leg is None:
            leg = self._adopt(report, triple)
        if leg is None and self._reload_map():
            leg = self._by_triple.get(triple) or self._by_sys.get(
                sys_key(report.exchange_id, report.order_sys_id)
            )
        return leg

    def _adopt(self, report: p.OrderReport, triple: Triple) -> LegState | None:
        """A leg of an order ``remember`` told us about, known only by its venue id."""
        names = (
            str(venue_id_of(report.exchange_id, report.order_sys_id)),
            str(provisional_id(triple)),
        )
        coid = next((self._remembered[n] for n in names if n in self._remembered), None)
        contract = self.contracts.by_symbol(report.instrument_id)
        side = codes.SIDE_OF.get(report.direction)
        if coid is None or contract is None or side is None:
            return None
        offset = codes.OFFSET_OF.get(report.offset, OffsetFlag.CLOSE)
        leg = LegState(
            coid,
            contract.contract_id,
            contract.instrument_id,
            contract.exchange_id,
            side,
            offset,
            report.volume_total_original,
            triple,
            current_session=False,
        )
        self.clients[coid].legs.append(leg)
        self._by_triple[triple] = leg
        return leg

    def _on_order(self, report: p.OrderReport) -> None:
        if report.status not in codes.OrderStatus._value2member_map_:
            self._halt(
                f"order {report.exchange_id}:{report.order_sys_id.strip() or report.order_ref}"
                f" in {report.instrument_id} has status code {report.status!r}, which Bastion"
                f" does not know (message: {report.status_msg}); the report is kept, nothing"
                " more is sent until an operator has looked"
            )
            return
        leg = self._find_leg(report)
        triple = (report.front_id, report.session_id, ref_key(report.order_ref))
        if leg is None:
            self.foreign_orders[triple] = report
            if report.order_sys_id.strip():
                self._foreign_sys.add(sys_key(report.exchange_id, report.order_sys_id))
            return
        if self.foreign_orders.pop(triple, None) is not None:  # it was ours after all
            self._foreign_sys.discard(sys_key(report.exchange_id, report.order_sys_id))
        if report.order_sys_id.strip() and leg.order_sys_id is None:
            leg.order_sys_id = report.order_sys_id
            self._by_sys[sys_key(report.exchange_id, report.order_sys_id)] = leg
            self._note_sys(leg)
        leg.status = report.status
        leg.message = report.status_msg
        self._reported[self._leg_name(leg)] = max(
            self._reported.get(self._leg_name(leg), 0), report.volume_traded
        )
        client = self.clients[leg.client_order_id]
        rejected = report.submit_status == codes.SubmitStatus.INSERT_REJECTED
        if leg.order_sys_id is not None and not rejected and not client.acked:
            client.acked = True
            client.venue_order_id = venue_id_of(report.exchange_id, leg.order_sys_id)
            self._events.append(
                Acknowledged(
                    client_order_id=client.client_order_id,
                    venue_order_id=client.venue_order_id,
                    timestamp=self._now(),
                )
            )
        if report.status in (codes.OrderStatus.ALL_TRADED, codes.OrderStatus.CANCELED):
            if report.status == codes.OrderStatus.CANCELED and rejected:
                leg.rejected = True
                leg.reason = reason_for(0, report.status_msg)
            self._leg_done(leg)
        self._finish(client)

    @staticmethod
    def _leg_name(leg: LegState) -> str:
        return f"{leg.triple[0]}:{leg.triple[1]}:{leg.triple[2]}"

    def _leg_done(self, leg: LegState) -> None:
        if leg.done:
            return
        leg.done = True
        book = self.books.get(leg.contract_id)
        if book is not None:
            for bucket, lots in leg.frozen:
                book.freeze(leg.side.opposite, bucket, -lots)
        leg.frozen = []

    def _settled(self, leg: LegState) -> bool:
        return leg.done and leg.traded >= self._reported.get(self._leg_name(leg), 0)

    def _finish(self, client: ClientState) -> None:
        if client.finished or not client.legs or not all(self._settled(x) for x in client.legs):
            return
        filled = sum(leg.traded for leg in client.legs)
        now = self._now()
        coid = client.client_order_id
        if filled >= client.quantity:
            client.finished = "filled"
        elif filled == 0 and not client.acked and all(leg.rejected for leg in client.legs):
            client.finished = "rejected"
            first = client.legs[0]
            self._events.append(
                Rejected(
                    client_order_id=coid,
                    reason=first.reason or Reason.UNKNOWN,
                    message=first.message or "rejected",
                    timestamp=now,
                )
            )
        elif client.cancel_requested:
            client.finished = "canceled"
            self._events.append(
                Canceled(
                    client_order_id=coid,
                    timestamp=now,
                    venue_order_id=client.venue_order_id,
                    filled=filled,
                )
            )
        elif self._session_closed(client.contract_id):
            client.finished = "expired"
            self._events.append(
                Expired(
                    client_order_id=coid,
                    timestamp=now,
                    venue_order_id=client.venue_order_id,
                    filled=filled,
                )
            )
        else:
            client.finished = "canceled"
            messages = "; ".join(sorted({leg.message for leg in client.legs if leg.message}))
            log.warning("CTP %s: %s ended without a cancel from us: %s", self.name, coid, messages)
            self._events.append(
                Canceled(
                    client_order_id=coid,
                    timestamp=now,
                    venue_order_id=client.venue_order_id,
                    unsolicited=True,
                    filled=filled,
                )
            )
        if client.replacement is not None:
            replacement, client.replacement = client.replacement, None
            if client.finished == "canceled" and client.cancel_requested:
                self._send_order(replacement)
            else:
                self._reject(
                    replacement.client_order_id,
                    Reason.INVALID_ORDER,
                    f"replace failed: {coid} was {client.finished} before the cancel",
                )

    def _session_closed(self, contract_id: ContractId) -> bool:
        contract = self.contracts.get(contract_id)
        return contract is not None and self._market.status(contract) in _CLOSED

    def _on_trade(self, trade: p.TradeReport) -> None:
        if trade.key in self._trade_keys:
            self.duplicate_trades += 1
            return
        leg = self._by_sys.get(sys_key(trade.exchange_id, trade.order_sys_id))
        if leg is None and self._reload_map():
            leg = self._by_sys.get(sys_key(trade.exchange_id, trade.order_sys_id))
        if leg is None:
            if sys_key(trade.exchange_id, trade.order_sys_id) in self._foreign_sys:
                self._trade_keys.add(trade.key)
                self._foreign(trade)
            else:
                self._parked.append(trade)  # its order report has not come yet
            return
        self._trade_keys.add(trade.key)
        contract = self.contracts.get(leg.contract_id)
        side = codes.SIDE_OF.get(trade.direction)
        if contract is None or side is None or trade.price is None:
            self._halt(f"trade {trade.exchange_id}:{trade.trade_id} cannot be read: {trade!r}")
            return
        leg.traded += trade.volume
        if leg.current_session:
            book = self.books.setdefault(contract.contract_id, Book())
            book.apply(side, leg.offset, trade.volume, splits_today=contract.splits_today)
            self._release_frozen(leg, book, trade.volume)
        self._emit_fill(leg.client_order_id, contract, side, trade)
        self._finish(self.clients[leg.client_order_id])

    def _release_frozen(self, leg: LegState, book: Book, lots: int) -> None:
        left = lots
        kept = []
        for bucket, held in leg.frozen:
            used = min(held, left)
            left -= used
            book.freeze(leg.side.opposite, bucket, -used)
            if held - used:
                kept.append((bucket, held - used))
        leg.frozen = kept

    def _emit_fill(
        self, coid: ClientOrderId, contract: CtpContract, side: Side, trade: p.TradeReport
    ) -> None:
        assert trade.price is not None  # noqa: S101 - checked by the caller
        try:
            ticks = contract.spec.to_ticks(Decimal(repr(trade.price)))
        except OffTickError:
            ticks = contract.spec.round_to_ticks(Decimal(repr(trade.price)))
            self.problems.append(f"trade {trade.trade_id} price {trade.price} is off the tick")
        day = trade.trading_day or self.trading_day
        when = exchange_time(day, trade.trade_time, _previous_trading_day(day)) or self._now()
        fill = Fill(
            exec_id=ExecId(f"{trade.exchange_id}:{trade.trade_id}:{trade.direction}"),
            client_order_id=coid,
            contract_id=contract.contract_id,
            side=side,
            quantity=trade.volume,
            price_ticks=ticks,
            timestamp=when,
            venue_order_id=venue_id_of(trade.exchange_id, trade.order_sys_id),
        )
        self.fills.append(fill)
        self._events.append(FillReport(fill=fill))

    def _foreign(self, trade: p.TradeReport) -> None:
        self.foreign_trades.append(trade)
        contract = self.contracts.by_symbol(trade.instrument_id)
        side = codes.SIDE_OF.get(trade.direction)
        text = (
            f"foreign trade {trade.exchange_id}:{trade.trade_id.strip()} in"
            f" {trade.instrument_id}: {trade.direction} {trade.volume} @ {trade.price}"
            f" (order {trade.order_sys_id.strip()} is not Bastion's)"
        )
        self.problems.append(text)
        log.warning("CTP %s: %s", self.name, text)
        if contract is None or side is None or trade.price is None:
            return
        coid = ClientOrderId(f"{FOREIGN_PREFIX}{trade.exchange_id}:{trade.order_sys_id.strip()}")
        self._emit_fill(coid, contract, side, trade)

    def _resolve_parked(self, *, final: bool) -> None:
        parked, self._parked = self._parked, []
        for trade in parked:
            self._on_trade(trade)
        if final:
            left, self._parked = self._parked, []
            for trade in left:
                self._trade_keys.add(trade.key)
                self._foreign(trade)

    def _on_insert_error(self, record: p.OrderInsertError) -> None:
        leg = self._by_triple.get((self.front_id, self.session_id, ref_key(record.order_ref)))
        if leg is None or leg.done:
            return
        leg.rejected = True
        leg.reason = reason_for(record.error.error_id, record.error.message)
        leg.message = f"CTP ErrorID {record.error.error_id}: {record.error.message}"
        self._leg_done(leg)
        self._finish(self.clients[leg.client_order_id])

    def _on_action_error(self, record: p.OrderActionError) -> None:
        leg = self._by_triple.get((record.front_id, record.session_id, ref_key(record.order_ref)))
        if leg is None and record.order_sys_id.strip():
            leg = self._by_sys.get(sys_key(record.exchange_id, record.order_sys_id))
        if leg is None:
            log.warning("CTP %s: cancel refused for an unknown order: %r", self.name, record)
            return
        client = self.clients[leg.client_order_id]
        if client.cancel_refused:
            return
        client.cancel_refused = True
        message = f"CTP ErrorID {record.error.error_id}: {record.error.message}"
        self._events.append(
            CancelRejected(
                client_order_id=client.client_order_id,
                reason=reason_for(record.error.error_id, record.error.message),
                message=message,
                timestamp=self._now(),
            )
        )
        if client.replacement is not None:
            replacement, client.replacement = client.replacement, None
            self._reject(
                replacement.client_order_id, Reason.INVALID_ORDER, f"replace failed: {message}"
            )

    def _reject(self, coid: ClientOrderId, reason: Reason, message: str) -> OrderCallResult:
        self._events.append(
            Rejected(client_order_id=coid, reason=reason, message=message, timestamp=self._now())
        )
        return OrderCallResult(client_order_id=coid, taken=False, reason=reason, message=message)

    def _note_sys(self, leg: LegState) -> None:
        if leg.current_session or leg.triple[1] == self.session_id:
            self.order_map.append(
                {
                    "kind": "sys",
                    "day": self.trading_day,
                    "front": leg.triple[0],
                    "session": leg.triple[1],
                    "ref": leg.triple[2],
                    "exchange": leg.exchange_id,
                    "sysid": leg.order_sys_id,
                }
            )

    @abc.abstractmethod
    def _learn(self, fact: dict[str, Any]) -> None:
        """Learn one fact of the order map (``CtpRecovery``)."""

    @abc.abstractmethod
    def _send_order(self, order: BrokerOrder) -> OrderCallResult:
        """Send a new order (the replacement of a modify): ``CtpVenue``."""

    def _reload_map(self) -> bool:
        """Read facts other sessions wrote since the last read; whether there were any."""
        path = self.order_map.path
        if path is None:
            return False
        try:
            size = path.stat().st_size
        except OSError:
            return False
        if size == self._map_size:
            return False
        self._map_size = size
        for fact in self.order_map.facts(self.trading_day):
            self._learn(fact)
        return True
