"""The IB venue's snapshots: each a bounded query on the IB thread, OK or UNKNOWN.

A query made while disconnected (or during an 1100), one that times out (IB may never
answer: ib_async would wait for ever), or one the connection drops under, gives
``Snapshot.unknown`` with the reason; it is never read as empty. Queries run one at a
time (ib_async keys several requests by name).

- positions: ``reqPositions``, the profile's account only, net per contract;
- open orders: ``reqAllOpenOrders`` (every client's, and manual TWS orders);
- fills since a cursor: ``reqExecutions`` from the cursor's second, de-duplicated by
  execId (IB can answer the same execution twice), commissions attached;
- order status: open orders, then ``reqCompletedOrders``; neither: NOT_FOUND;
- account: the account summary (net liquidation, initial margin, available funds, in
  the account's currency), and the day's commissions from its executions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from ib_async import IB, ExecutionFilter
from ib_async.objects import Fill as IbFill

from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.venues.ib.connection import IbConnection, now_utc
from bastion.venues.ib.parsing import (
    account_snapshot,
    client_order_id_for,
    completed_status,
    decode_cursor,
    encode_cursor,
    fill_from_execution,
    ib_time,
    open_order_record,
    position_record,
    venue_order_id,
)
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

__all__ = ["IbSnapshots"]

log = logging.getLogger("bastion.ib.snapshots")
T = TypeVar("T")
SUMMARY_TAGS = (
    "NetLiquidation,TotalCashValue,InitMarginReq,FullInitMarginReq,MaintMarginReq,"
    "AvailableFunds,FullAvailableFunds,ExcessLiquidity"
)
UNSET_DOUBLE = 1.7976931348623157e308


def commission_value(raw: float) -> Decimal:
    """IB's commission float (``UNSET_DOUBLE`` until known) as an exact decimal."""
    if math.isnan(raw) or raw >= UNSET_DOUBLE:
        return Decimal(0)
    return Decimal(repr(raw))


class IbSnapshots(IbConnection):
    _commissions: dict[str, Decimal]
    _exec_bases: dict[str, str]
    """An execId without its correction suffix -> the first execId seen with it."""
    _summary_rows: dict[int, dict[str, tuple[str, str]]]

    # -- the query frame ------------------------------------------------------------------
    def _query(self, what: str, make: Callable[[IB], Awaitable[T]]) -> T | str:
        """``make(ib)``'s result, or why there is none (one line)."""
        loop, timeout = self._loop, self.config.query_timeout
        if loop is None or not self.is_connected:
            why = self.last_disconnect_reason or "not connected"
            return f"{self.config.name} is disconnected ({why}): {what} unknown"

        async def run() -> T | str:
            if self._query_lock is None:
                self._query_lock = asyncio.Lock()
            async with self._query_lock:
                ib = self._ib
                if ib is None or not self.is_connected:
                    return f"{self.config.name} is disconnected: {what} unknown"
                try:
                    return await asyncio.wait_for(make(ib), timeout)
                except TimeoutError:
                    return f"IB did not answer the {what} request within {timeout:g} s"
                except ConnectionError as exc:
                    return f"the connection dropped during the {what} request ({exc})"

        try:
            result = loop.run(run(), timeout=2 * timeout + 1)
        except TimeoutError:
            return f"IB did not answer the {what} request within {timeout:g} s"
        if isinstance(result, str):
            log.warning("IB %s: %s", self.config.name, result)
        return result

    # -- snapshots ------------------------------------------------------------------------
    def positions(self) -> Snapshot[dict[ContractId, PositionRecord]]:
        got = self._query("positions", lambda ib: ib.reqPositionsAsync())
        if isinstance(got, str):
            return Snapshot.unknown(got)
        out: dict[ContractId, PositionRecord] = {}
        for position in got:
            if position.account != self.config.account:
                continue
            cid = self.contracts.identify(position.contract)
            if cid is None:
                log.warning(
                    "IB %s: a position in %s, which this profile does not trade: not reported",
                    self.config.name,
                    position.contract.localSymbol or position.contract.symbol,
                )
                continue
            record = position_record(cid, position.position)
            if record is not None:
                out[cid] = record
        return Snapshot.ok(out, now_utc())

    def open_orders(self) -> Snapshot[tuple[OpenOrderRecord, ...]]:
        got = self._query("open orders", lambda ib: ib.reqAllOpenOrdersAsync())
        if isinstance(got, str):
            return Snapshot.unknown(got)
        records = []
        for trade in got:
            if trade.order.account not in {"", self.config.account}:
                continue
            record = open_order_record(
                trade.order, trade.contract, self.contracts, trade.orderStatus.filled
            )
            if record is None:
                log.warning(
                    "IB %s: an open order in %s cannot be read: not reported",
                    self.config.name,
                    trade.contract.localSymbol or trade.contract.symbol,
                )
                continue
            records.append(record)
        return Snapshot.ok(tuple(records), now_utc())

    async def _executions(self, ib: IB, since: dt.datetime | None) -> list[IbFill]:
        flt = ExecutionFilter(acctCode=self.config.account)
        if since is not None:
            flt.time = ib_time(since)
        result: list[IbFill] = await ib.reqExecutionsAsync(flt)
        unique: dict[str, IbFill] = {}
        for fill in result:  # IB (and ib_async) can return an execution twice
            unique.setdefault(fill.execution.execId, fill)
        return _fold_corrections(list(unique.values()), self._exec_bases)

    def _fill(self, raw: IbFill) -> Fill | None:
        commission = self._commissions.get(raw.execution.execId)
        if commission is None:
            commission = commission_value(raw.commissionReport.commission)
        return fill_from_execution(raw.execution, raw.contract, self.contracts, commission)

    def fills_since(self, cursor: FillCursor | None) -> Snapshot[FillsPage]:
        try:
            since, seen = decode_cursor(cursor)
        except ValueError:
            return Snapshot.unknown(f"fills cursor {cursor!r} is not an IB cursor")
        got = self._query("executions", lambda ib: self._executions(ib, since))
        if isinstance(got, str):
            return Snapshot.unknown(got)
        fills: list[Fill] = []
        for raw in got:
            fill = self._fill(raw)
            if fill is None:
                log.error(
                    "IB %s: execution %s cannot be read (contract %s): not reported",
                    self.config.name,
                    raw.execution.execId,
                    raw.contract.localSymbol or raw.contract.symbol,
                )
                continue
            second = fill.timestamp.replace(microsecond=0)
            if since is not None and (second < since or (second == since and fill.exec_id in seen)):
                continue
            fills.append(fill)
        fills.sort(key=lambda f: (f.timestamp, f.exec_id))
        latest, ids = since, set(seen)
        for fill in fills:
            second = fill.timestamp.replace(microsecond=0)
            if latest is None or second > latest:
                latest, ids = second, set()
            if second == latest:
                ids.add(fill.exec_id)
        page = FillsPage(fills=tuple(fills), next_cursor=FillCursor(encode_cursor(latest, ids)))
        return Snapshot.ok(page, now_utc())

    def order_status(self, client_order_id: ClientOrderId) -> Snapshot[OrderStatusRecord]:
        async def find(ib: IB) -> OrderStatusRecord:
            for trade in await ib.reqAllOpenOrdersAsync():
                o = trade.order
                if client_order_id_for(o.orderRef, o.clientId, o.orderId, o.permId) == (
                    client_order_id
                ):
                    return OrderStatusRecord(
                        client_order_id=client_order_id,
                        status=VenueOrderStatus.WORKING,
                        filled=int(trade.orderStatus.filled),
                        venue_order_id=venue_order_id(o.permId),
                    )
            for trade in await ib.reqCompletedOrdersAsync(apiOnly=False):
                o = trade.order
                if o.orderRef != client_order_id:
                    continue
                return OrderStatusRecord(
                    client_order_id=client_order_id,
                    status=completed_status(trade.orderStatus.status),
                    filled=int(o.filledQuantity) if o.filledQuantity < UNSET_DOUBLE else 0,
                    venue_order_id=venue_order_id(o.permId),
                )
            return OrderStatusRecord(
                client_order_id=client_order_id, status=VenueOrderStatus.NOT_FOUND
            )

        got = self._query(f"order status of {client_order_id}", find)
        if isinstance(got, str):
            return Snapshot.unknown(got)
        return Snapshot.ok(got, now_utc())

    def account(self) -> Snapshot[AccountSnapshot]:
        async def summary(ib: IB) -> tuple[dict[str, tuple[str, str]], Decimal]:
            req_id = ib.client.getReqId()
            self._summary_rows[req_id] = {}
            future: asyncio.Future[Any] = ib.wrapper.startReq(req_id)
            ib.client.reqAccountSummary(req_id, "All", SUMMARY_TAGS)
            try:
                await future
            finally:
                ib.client.cancelAccountSummary(req_id)
            rows = self._summary_rows.pop(req_id, {})
            fills = await self._executions(ib, None)
            total = sum(
                (
                    self._commissions.get(f.execution.execId)
                    or commission_value(f.commissionReport.commission)
                    for f in fills
                ),
                Decimal(0),
            )
            return rows, total

        got = self._query("account summary", summary)
        if isinstance(got, str):
            return Snapshot.unknown(got)
        rows, commissions = got
        result = account_snapshot(rows, commissions)
        if isinstance(result, str):
            return Snapshot.unknown(result)
        return Snapshot.ok(result, now_utc())

    def on_account_summary(
        self, req_id: int, account: str, tag: str, value: str, currency: str
    ) -> None:
        rows = self._summary_rows.get(req_id)
        if rows is not None and account == self.config.account:
            rows[tag] = (value, currency)


def _fold_corrections(fills: list[IbFill], bases: dict[str, str]) -> list[IbFill]:
    """IB's executions with each correction folded into the execution it corrects: an
    execId differing from an earlier one only after its final period says what that
    execution now was. Reported once, under the first execId (Bastion's journal knows
    that one), with the last correction's shares and price, so recovery and
    reconciliation never count a correction as a second fill."""
    out: dict[str, IbFill] = {}
    for fill in sorted(fills, key=lambda f: f.execution.execId):
        exec_id = fill.execution.execId
        first = bases.setdefault(exec_id.rpartition(".")[0] or exec_id, exec_id)
        out[first] = fill if first == exec_id else _as(fill, first)  # a later one wins
    return list(out.values())


def _as(fill: IbFill, exec_id: str) -> IbFill:
    execution = dataclasses.replace(fill.execution, execId=exec_id)
    return fill._replace(execution=execution)
