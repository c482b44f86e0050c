"""The fake counter's orders: CTP's checks, then the exchange, and the exchange's reports
turned into CTP's callbacks, in CTP's order (the counter is described in ``counter``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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
from bastion.testing.fake_ctp.core import (
    REJECT_TEXT,
    SPLITS,
    FakeCounterCore,
    FakeInstrument,
    FakeOrder,
)
from bastion.testing.fake_ctp.ports import Call, FakeTraderApi, Struct

__all__ = ["FakeCounterOrders"]


class FakeCounterOrders(FakeCounterCore):
    # -- orders --------------------------------------------------------------------------
    def _closable(self, cid: ContractId, book: str, bucket: str) -> int:
        return self.books[cid][f"{book}_{bucket}"] - self.frozen[(cid, f"{book}_{bucket}")]

    def _close_buckets(
        self, inst: FakeInstrument, book: str, offset: str, lots: int
    ) -> list[tuple[str, int]] | tuple[int, str]:
        """Where a close takes its lots from, or the CTP error when it cannot."""
        cid = inst.contract_id
        if inst.exchange_id in SPLITS:
            bucket = "today" if offset == "3" else "yesterday"
            if self._closable(cid, book, bucket) < lots:
                error = {"3": 50, "4": 51}.get(offset, 30)
                words = {50: "平今仓位不足", 51: "平昨仓位不足", 30: "平仓量超过持仓量"}[error]
                return error, f"CTP:{words}"
            return [(f"{book}_{bucket}", lots)]
        yesterday = min(lots, self._closable(cid, book, "yesterday"))
        if yesterday + self._closable(cid, book, "today") < lots:
            return 30, "CTP:平仓量超过持仓量"
        return [(f"{book}_yesterday", yesterday), (f"{book}_today", lots - yesterday)]

    def insert_order(self, session: FakeTraderApi, field: Any, rid: int) -> int:  # noqa: C901, PLR0912 - CTP's checks in order
        self.requests["insert_order"] += 1
        if (code := self._gate(session)) is not None:
            return code
        fields = {
            name: getattr(field, name)
            for name in (
                "BrokerID",
                "InvestorID",
                "UserID",
                "InstrumentID",
                "ExchangeID",
                "OrderRef",
                "OrderPriceType",
                "Direction",
                "CombOffsetFlag",
                "CombHedgeFlag",
                "LimitPrice",
                "VolumeTotalOriginal",
                "TimeCondition",
                "VolumeCondition",
                "MinVolume",
                "ContingentCondition",
                "ForceCloseReason",
            )
        }
        fields.update(FrontID=session.front_id, SessionID=session.session_id, RequestID=rid)
        echo = self._t(
            "CThostFtdcInputOrderField",
            {k: v for k, v in fields.items() if k not in ("FrontID", "SessionID")},
        )
        key = ClientOrderId(f"{session.front_id}:{session.session_id}:{field.OrderRef}")
        inst = self._by_symbol.get(field.InstrumentID)
        offset = str(field.CombOffsetFlag)[:1]
        side = Side.BUY if field.Direction == "0" else Side.SELL
        error: tuple[int, str] | None = None
        buckets: list[tuple[str, int]] = []
        if self.faults.insert_errors:
            error = self.faults.insert_errors.popleft()
        elif inst is None:
            error = (16, "CTP:找不到合约")
        elif self.confirmed_day != self.trading_day:
            error = (42, "CTP:结算结果未确认")
        elif key in self.orders:
            error = (22, "CTP:报单错误：不允许重复报单")
        elif offset != "0":
            found = self._close_buckets(
                inst, "short" if side is Side.BUY else "long", offset, field.VolumeTotalOriginal
            )
            if isinstance(found, tuple):
                error = found
            else:
                buckets = found
        if error is not None or inst is None:
            self._insert_error(session, echo, rid, error or (16, "CTP:找不到合约"))
            return 0
        order = FakeOrder(
            key,
            session,
            fields,
            inst,
            side,
            offset,
            int(field.VolumeTotalOriginal),
            float(field.LimitPrice),
        )
        if self.faults.exchange_rejects:
            self.orders[key] = order
            self._rtn_order(order)
            order.status, order.submit = "5", "4"
            order.message = (
                f"已撤单报单被拒绝{inst.exchange_id}:{self.faults.exchange_rejects.popleft()}"
            )
            self._rtn_order(order)
            return 0
        spec = inst.spec.contract
        ticks = spec.round_to_ticks(Decimal(repr(order.price)))
        tif = TimeInForce.DAY
        if field.TimeCondition == "1":
            tif = TimeInForce.FOK if field.VolumeCondition == "3" else TimeInForce.IOC
        self.exchange.submit(
            BrokerOrder(
                client_order_id=key,
                contract_id=inst.contract_id,
                side=side,
                quantity=order.volume,
                order_type=OrderType.LIMIT,
                created=self.clock.now(),
                time_in_force=tif,
                limit_ticks=ticks,
            )
        )
        events = self.exchange.poll_events()
        first = next((e for e in events if e.client_order_id == key), None)
        if isinstance(first, Rejected) and first.reason is Reason.INSUFFICIENT_MARGIN:
            self._insert_error(session, echo, rid, (31, "CTP:资金不足"))
            self._translate([e for e in events if e is not first])
            return 0
        self.orders[key] = order
        order.frozen = [(b, n) for b, n in buckets if n]
        for bucket, lots in order.frozen:
            self.frozen[(inst.contract_id, bucket)] += lots
        self._rtn_order(order)
        self._translate(events)
        return 0

    def _insert_error(
        self, session: FakeTraderApi, echo: Struct, rid: int, error: tuple[int, str]
    ) -> None:
        info = self._info(*error)
        session.deliver(Call("OnRspOrderInsert", (echo, info, rid, True)))
        session.deliver(Call("OnErrRtnOrderInsert", (echo, info)))

    def order_action(self, session: FakeTraderApi, field: Any, rid: int) -> int:
        self.requests["order_action"] += 1
        if (code := self._gate(session)) is not None:
            return code
        target = None
        if field.OrderSysID:
            target = next(
                (
                    o
                    for o in self.orders.values()
                    if o.sys_id == field.OrderSysID and o.instrument.exchange_id == field.ExchangeID
                ),
                None,
            )
        else:
            key = ClientOrderId(f"{field.FrontID}:{field.SessionID}:{field.OrderRef}")
            target = self.orders.get(key)
        echo = self._t(
            "CThostFtdcInputOrderActionField",
            {
                "BrokerID": field.BrokerID,
                "InvestorID": field.InvestorID,
                "FrontID": field.FrontID,
                "SessionID": field.SessionID,
                "OrderRef": field.OrderRef,
                "ExchangeID": field.ExchangeID,
                "OrderSysID": field.OrderSysID,
                "InstrumentID": field.InstrumentID,
                "ActionFlag": "0",
            },
        )
        if target is None or not target.working:
            error = (
                (25, "CTP:撤单找不到相应报单")
                if target is None
                else (26, "CTP:报单已全成交或已撤销，不能再撤")
            )
            info = self._info(*error)
            session.deliver(Call("OnRspOrderAction", (echo, info, rid, True)))
            session.deliver(
                Call(
                    "OnErrRtnOrderAction",
                    (
                        self._t(
                            "CThostFtdcOrderActionField",
                            {
                                "FrontID": field.FrontID,
                                "SessionID": field.SessionID,
                                "OrderRef": field.OrderRef,
                                "ExchangeID": field.ExchangeID,
                                "OrderSysID": field.OrderSysID,
                                "InstrumentID": field.InstrumentID,
                                "StatusMsg": error[1],
                            },
                        ),
                        info,
                    ),
                )
            )
            return 0
        self.exchange.cancel(target.key)
        self._translate(self.exchange.poll_events())
        return 0

    # -- the exchange's reports into CTP's ---------------------------------------------------
    def _translate(self, events: list[VenueEvent]) -> None:
        for event in events:
            order = self.orders.get(event.client_order_id)
            if order is None:
                continue
            if isinstance(event, Acknowledged):
                self._accept(order)
            elif isinstance(event, FillReport):
                self._fill(order, event.fill.quantity, event.fill.price_ticks)
            elif isinstance(event, Canceled | Expired):
                self._accept(order)
                order.status, order.message = "5", "已撤单"
                self._release(order)
                self._rtn_order(order)
            elif isinstance(event, Rejected):
                order.status, order.submit = "5", "4"
                words = REJECT_TEXT.get(event.reason, event.message)
                order.message = f"已撤单报单被拒绝{order.instrument.exchange_id}:{words}"
                self._release(order)
                self._rtn_order(order)
            elif isinstance(event, CancelRejected):
                pass  # the counter answers refused cancels itself (order_action)

    def _accept(self, order: FakeOrder) -> None:
        if order.sys_id:
            return
        order.sys_id = f"{next(self._sys_ids):>12d}"
        order.status, order.submit, order.message = "3", "3", "未成交"
        self._rtn_order(order)

    def _release(self, order: FakeOrder) -> None:
        for bucket, lots in order.frozen:
            self.frozen[(order.instrument.contract_id, bucket)] -= lots
        order.frozen = []

    def _fill(self, order: FakeOrder, lots: int, ticks: int) -> None:
        self._accept(order)
        order.traded += lots
        if order.status != "5":
            done = order.traded >= order.volume
            order.status = "0" if done else "1"
            order.message = "全部成交报单已提交" if done else "部分成交"
        self._rtn_order(order)
        book = self.books[order.instrument.contract_id]
        if order.offset == "0":
            book[f"{'long' if order.side is Side.BUY else 'short'}_today"] += lots
        else:
            left = lots
            for bucket, held in list(order.frozen):
                used = min(held, left)
                book[bucket] -= used
                self.frozen[(order.instrument.contract_id, bucket)] -= used
                left -= used
                order.frozen.remove((bucket, held))
                if held - used:
                    order.frozen.append((bucket, held - used))
        date, time = self._now_fields()
        trade = {
            "BrokerID": self.broker_id,
            "InvestorID": self.user_id,
            "InstrumentID": order.instrument.instrument_id,
            "ExchangeID": order.instrument.exchange_id,
            "TradeID": f"{next(self._trade_ids):>12d}",
            "Direction": order.fields["Direction"],
            "OrderSysID": order.sys_id,
            "OrderRef": order.fields["OrderRef"],
            "OffsetFlag": order.offset,
            "HedgeFlag": "1",
            "Price": float(order.instrument.spec.contract.from_ticks(ticks)),
            "Volume": lots,
            "TradeDate": date,
            "TradeTime": time,
            "TradingDay": self.trading_day,
        }
        self.trades.append(trade)
        call = Call("OnRtnTrade", (self._t("CThostFtdcTradeField", trade),))
        self._push(call)
        if self.faults.duplicate_trades:
            self.faults.duplicate_trades -= 1
            self._push(call)
