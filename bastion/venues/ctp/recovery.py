"""The query half of ``CtpVenue``: recovery after each login, and the snapshots.

After every login (VENUES.md, "Recovery"): the identities Bastion wrote for this trading
day are read back (``OrderMap``); the RESTART replay of the private flow has started to
arrive; the day's orders and trades are then queried too and fed through the same path
(de-duplicated, so a replayed report changes nothing), so nothing depends on when the
replay ends; trades still without an order are foreign. Then the contracts are checked
against the specs (tick and multiplier; a mismatch fails the login, since prices would
convert wrongly), and positions and the account are queried. Any failure fails the login:
the venue is not ready, and says why.

Snapshots: ``positions`` and ``account`` query the front each time (paced); open orders,
fills and an order's status come from the day's pushed flow, complete after recovery.
A snapshot while not logged in, or while halted on an unmapped status, is UNKNOWN.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.venues.ctp import codes
from bastion.venues.ctp import parsing as p
from bastion.venues.ctp.instruments import to_ticks_or_none
from bastion.venues.ctp.link import LoginFailed
from bastion.venues.ctp.offsets import Book
from bastion.venues.ctp.orders import ClientState, LegState, sys_key
from bastion.venues.ctp.reports import FOREIGN_PREFIX, CtpReports, ref_key
from bastion.venues.port import (
    AccountSnapshot,
    FillCursor,
    FillsPage,
    OpenOrderRecord,
    OrderStatusRecord,
    PositionRecord,
    Snapshot,
    VenueOrderStatus,
)

__all__ = ["CtpRecovery"]

_FINISHED = {
    "filled": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELED,
    "rejected": VenueOrderStatus.REJECTED,
    "expired": VenueOrderStatus.EXPIRED,
}


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


class CtpRecovery(CtpReports):
    """Recovery after each login, and the snapshots; ``CtpVenue`` adds the order calls."""

    # -- identities from the order map ---------------------------------------------------
    def _learn(self, fact: dict[str, Any]) -> None:
        try:
            triple = (int(fact["front"]), int(fact["session"]), ref_key(str(fact["ref"])))
            if fact.get("kind") == "sys":
                leg = self._by_triple.get(triple)
                if leg is not None and leg.order_sys_id is None:
                    leg.order_sys_id = str(fact["sysid"])
                    self._by_sys[sys_key(leg.exchange_id, leg.order_sys_id)] = leg
                return
            if triple in self._by_triple:
                return
            coid = ClientOrderId(str(fact["coid"]))
            contract = self.contracts.get(ContractId(str(fact["contract"])))
            if contract is None:
                return
            side = Side(fact["side"])
            client = self.clients.get(coid)
            if client is None:
                limit = fact.get("limit")
                client = ClientState(
                    coid,
                    contract.contract_id,
                    side,
                    int(fact["order_qty"]),
                    OrderType(fact.get("type", "limit")),
                    TimeInForce(fact.get("tif", "day")),
                    None if limit is None else int(limit),
                )
                self.clients[coid] = client
            leg = LegState(
                coid,
                contract.contract_id,
                contract.instrument_id,
                contract.exchange_id,
                side,
                OffsetFlag(fact["offset"]),
                int(fact["qty"]),
                triple,
                current_session=triple[:2] == (self.front_id, self.session_id),
            )
            client.legs.append(leg)
            self._by_triple[triple] = leg
        except (KeyError, ValueError, TypeError) as exc:
            self.problems.append(f"CTP order map fact not understood ({exc}): {fact!r}")

    # -- recovery ---------------------------------------------------------------------------
    def begin_session(self) -> None:
        """A login answer: a new trading day starts empty; the day's order map is read."""
        if self._day != self.trading_day:
            self._day = self.trading_day
            self._trade_keys.clear()
            self.fills.clear()
            self.foreign_orders.clear()
            self._foreign_sys.clear()
            self._parked.clear()
        self._map_size = -1
        if not self._reload_map():
            for fact in self.order_map.facts(self.trading_day):
                self._learn(fact)

    def after_login(self) -> None:
        self.recover_after_login()

    def recover_after_login(self) -> None:
        self.pump()  # the replay that has come so far
        t = self.binding.trader
        for what, send, kind in (
            ("the day's orders", self.trader.query_orders, t.CThostFtdcQryOrderField),
            ("the day's trades", self.trader.query_trades, t.CThostFtdcQryTradeField),
        ):
            field = kind()
            field.BrokerID = self.config.broker_id
            field.InvestorID = self.config.user_id
            rows = self.query(what, send, field)
            if isinstance(rows, str):
                raise LoginFailed(f"recovery: {rows}")
            for row in rows:
                self.apply(row)
        self._resolve_parked(final=True)
        if self.config.check_contracts:
            self._check_contracts()
        got = self._query_positions()
        if isinstance(got, str):
            raise LoginFailed(f"recovery: {got}")
        account = self._query_account()
        if isinstance(account, str):
            raise LoginFailed(f"recovery: {account}")

    def _check_contracts(self) -> None:
        found: list[str] = []
        for contract in self.contracts.all():
            field = self.binding.trader.CThostFtdcQryInstrumentField()
            field.InstrumentID = contract.instrument_id
            field.ExchangeID = contract.exchange_id
            rows = self.query(
                f"contract {contract.instrument_id}", self.trader.query_instrument, field
            )
            if isinstance(rows, str):
                self._step("contracts", ok=False, detail=rows)
                raise LoginFailed(rows)
            row = next(
                (
                    r
                    for r in rows
                    if isinstance(r, p.InstrumentRow) and r.instrument_id == contract.instrument_id
                ),
                None,
            )
            spec = contract.spec
            problem = ""
            if row is None:
                problem = f"CTP does not list {contract.instrument_id} on {contract.exchange_id}"
            elif row.price_tick is None or _decimal(row.price_tick) != spec.tick_size:
                problem = (
                    f"{contract.instrument_id}: CTP's tick {row.price_tick} differs from the"
                    f" spec's {spec.tick_size}; fix the spec before trading"
                )
            elif Decimal(row.volume_multiple) != spec.multiplier:
                problem = (
                    f"{contract.instrument_id}: CTP's multiplier {row.volume_multiple} differs"
                    f" from the spec's {spec.multiplier}; fix the spec before trading"
                )
            if problem:
                self._step("contracts", ok=False, detail=problem)
                raise LoginFailed(problem)
            found.append(
                f"{contract.instrument_id} {contract.exchange_id} tick {spec.tick_size}"
                f" x{spec.multiplier}"
            )
        self._step("contracts", ok=True, detail="; ".join(found) + " (match the specs)")

    # -- snapshots ---------------------------------------------------------------------------
    def _unknown_why(self) -> str | None:
        self.pump()
        if not self.ready:
            return (
                f"{self.name} is not logged in ({self.last_disconnect_reason or 'not connected'})"
            )
        return None

    def _query_positions(self) -> dict[ContractId, PositionRecord] | str:
        field = self.binding.trader.CThostFtdcQryInvestorPositionField()
        field.BrokerID = self.config.broker_id
        field.InvestorID = self.config.user_id
        rows = self.query("positions", self.trader.query_positions, field)
        if isinstance(rows, str):
            return rows
        books: dict[ContractId, Book] = {cid: Book() for cid in self.books}
        for row in rows:
            if not isinstance(row, p.PositionRow) or row.position == 0:
                continue
            contract = self.contracts.by_symbol(row.instrument_id)
            if contract is None:
                self.problems.append(
                    f"position in {row.instrument_id} ({row.position} lots), outside the"
                    " profile's contracts"
                )
                continue
            book = books.setdefault(contract.contract_id, Book())
            today = row.today_position
            yesterday = max(0, row.position - row.today_position)
            if row.direction == codes.PositionDirection.LONG:
                book.long_today += today
                book.long_yesterday += yesterday
            elif row.direction == codes.PositionDirection.SHORT:
                book.short_today += today
                book.short_yesterday += yesterday
            else:
                return f"positions: a net position row ({row.direction!r}) in {row.instrument_id}"
        for client in self.clients.values():
            for leg in client.legs:
                if not leg.done:
                    for bucket, lots in leg.frozen:
                        books[leg.contract_id].freeze(leg.side.opposite, bucket, lots)
        self.books = books
        return {
            cid: PositionRecord(
                contract_id=cid,
                long_today=b.long_today,
                long_yesterday=b.long_yesterday,
                short_today=b.short_today,
                short_yesterday=b.short_yesterday,
            )
            for cid, b in books.items()
            if b.long_today or b.long_yesterday or b.short_today or b.short_yesterday
        }

    def _query_account(self) -> AccountSnapshot | str:
        field = self.binding.trader.CThostFtdcQryTradingAccountField()
        field.BrokerID = self.config.broker_id
        field.InvestorID = self.config.user_id
        rows = self.query("account", self.trader.query_account, field)
        if isinstance(rows, str):
            return rows
        accounts = [r for r in rows if isinstance(r, p.AccountRow)]
        if not accounts:
            return "account: the front answered with no account"
        a = accounts[0]
        return AccountSnapshot(
            currency=a.currency,
            equity=_decimal(a.balance),
            margin_used=_decimal(a.margin),
            margin_available=_decimal(a.available),
            commissions=_decimal(a.commission),
        )

    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        why = self._unknown_why()
        if why is not None:
            return Snapshot.unknown(why)
        got = self._query_positions()
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return Snapshot.ok(got, self.clock.now())

    def account(self) -> Snapshot[AccountSnapshot]:
        why = self._unknown_why()
        if why is not None:
            return Snapshot.unknown(why)
        got = self._query_account()
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return Snapshot.ok(got, self.clock.now())

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        why = self._unknown_why()
        if why is None and self.halt_reason:
            why = f"halted: {self.halt_reason}"
        if why is not None:
            return Snapshot.unknown(why)
        records = [self._open_record(c) for c in self.clients.values() if c.working]
        for report in self.foreign_orders.values():
            record = self._foreign_open(report)
            if record is not None:
                records.append(record)
        return Snapshot.ok(tuple(records), self.clock.now())

    def _open_record(self, client: ClientState) -> OpenOrderRecord:
        return OpenOrderRecord(
            client_order_id=client.client_order_id,
            venue_order_id=client.venue_order_id,
            contract_id=client.contract_id,
            side=client.side,
            quantity=client.quantity,
            filled=sum(leg.traded for leg in client.legs),
            order_type=client.order_type,
            time_in_force=client.time_in_force,
            limit_ticks=client.limit_ticks,
        )

    def _foreign_open(self, report: p.OrderReport) -> OpenOrderRecord | None:
        if report.status not in codes.WORKING_STATUSES:
            return None
        contract = self.contracts.by_symbol(report.instrument_id)
        side = codes.SIDE_OF.get(report.direction)
        if contract is None or side is None or report.volume_total_original <= 0:
            return None
        key = report.order_sys_id.strip() or report.order_ref
        return OpenOrderRecord(
            client_order_id=ClientOrderId(f"{FOREIGN_PREFIX}{report.exchange_id}:{key}"),
            venue_order_id=None,
            contract_id=contract.contract_id,
            side=side,
            quantity=report.volume_total_original,
            filled=report.volume_traded,
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            limit_ticks=to_ticks_or_none(contract.spec, report.limit_price),
        )

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        why = self._unknown_why()
        if why is not None:
            return Snapshot.unknown(why)
        start = 0
        if cursor:
            day, _, count = str(cursor).partition(":")
            if not count.isdigit():
                return Snapshot.unknown(f"not a CTP fill cursor: {cursor!r}")
            if day == self.trading_day:
                start = min(int(count), len(self.fills))
        page = FillsPage(
            fills=tuple(self.fills[start:]),
            next_cursor=FillCursor(f"{self.trading_day}:{len(self.fills)}"),
        )
        return Snapshot.ok(page, self.clock.now())

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        why = self._unknown_why()
        if why is not None:
            return Snapshot.unknown(why)
        client = self.clients.get(client_order_id)
        if client is None or not client.legs:
            record = OrderStatusRecord(
                client_order_id=client_order_id, status=VenueOrderStatus.NOT_FOUND
            )
        else:
            status = _FINISHED.get(client.finished, VenueOrderStatus.WORKING)
            record = OrderStatusRecord(
                client_order_id=client_order_id,
                status=status,
                filled=sum(leg.traded for leg in client.legs),
                venue_order_id=client.venue_order_id,
                timestamp=self.clock.now(),
            )
        return Snapshot.ok(record, self.clock.now())
