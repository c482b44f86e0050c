"""A deterministic fake CTP counter: a broker's CTP front and an exchange, in process.

The exchange is Bastion's sim venue (its matching, margin, bands, sessions and faults);
around it the counter does what a CTP counter does, independently of the adapter's code:

- logins: authentication (AppID/AuthCode), login with a new SessionID every time, the
  trading day, settlement confirmation once per trading day;
- the books: long and short, today and yesterday (``roll_day`` turns today's into
  yesterday's), offset rules per exchange (SHFE/INE: CloseToday closes today's book,
  Close and CloseYesterday yesterday's; elsewhere the oldest first), over-closes refused
  (ErrorID 30/50/51), closes held back while working;
- orders with CTP identities (FrontID/SessionID/OrderRef, then a space-padded
  OrderSysID), callbacks in CTP's order: ``OnRtnOrder`` (Unknown), ``OnRtnOrder``
  (accepted, with OrderSysID), per match ``OnRtnOrder`` then ``OnRtnTrade``; CTP-level
  rejects as ``OnRspOrderInsert`` + ``OnErrRtnOrderInsert``; exchange rejects as
  Canceled with InsertRejected and a GBK message;
- the day's private flow, replayed to a session that subscribes with RESTART;
- market data with the day's limits (DBL_MAX for empty levels) and instrument status.

Fault switches (``faults``): a front that never answers, CTP-level and exchange rejects,
flow control (-2/-3, ErrorID 90), duplicate trades, an unmapped status code, settlement
that cannot be confirmed, a disconnect (and a reconnect with a new SessionID); partial
fills and fills after a cancel come from the sim venue's own faults (``exchange``).
"""

from __future__ import annotations

from bastion.domain.ids import ContractId
from bastion.testing.fake_ctp.core import CHINA, DBL_MAX, FakeFaults, FakeInstrument
from bastion.testing.fake_ctp.ports import Call, FakeMdApi, FakeTraderApi, Struct
from bastion.testing.fake_ctp.trading import FakeCounterOrders

__all__ = ["FakeCtpCounter", "FakeFaults", "FakeInstrument"]


class FakeCtpCounter(FakeCounterOrders):
    """One investor's account at a fake CTP counter, with an exchange behind it."""

    # -- ports for the adapter ------------------------------------------------------------
    def trader_port(self) -> FakeTraderApi:
        return FakeTraderApi(self, threaded=self.threaded)

    def md_port(self) -> FakeMdApi:
        return FakeMdApi(self, threaded=self.threaded)

    # -- market data and the exchange -----------------------------------------------------
    def md_login(self, session: FakeMdApi, rid: int) -> int:
        if not session.connected:
            return -1
        session.logged_in = True
        login = Struct(
            self.binding.md.CThostFtdcRspUserLoginField, {"TradingDay": self.trading_day}
        )
        info = Struct(self.binding.md.CThostFtdcRspInfoField, {"ErrorID": 0, "ErrorMsg": ""})
        session.deliver(Call("OnRspUserLogin", (login, info, rid, True)))
        return 0

    def md_subscribe(self, session: FakeMdApi, symbols: list[str]) -> int:
        if not session.logged_in:
            return -1
        session.subscribed.update(symbols)
        for symbol in symbols:
            inst = self._by_symbol.get(symbol)
            if inst is not None and self.markets[inst.contract_id].bid is not None:
                session.deliver(Call("OnRtnDepthMarketData", (self._depth(inst),)))
        return 0

    def band(self, cid: ContractId) -> tuple[int, int] | None:
        market = self.markets[cid]
        centre = market.reference
        if centre is None:
            return None
        spec = self.instruments[cid].spec.contract
        width = int(abs(centre) * (spec.price_band or self.default_band))
        return centre - width, centre + width

    def _depth(self, inst: FakeInstrument) -> Struct:
        market = self.markets[inst.contract_id]
        spec = inst.spec.contract
        band = self.band(inst.contract_id)

        def price(ticks: int | None) -> float:
            return DBL_MAX if ticks is None else float(spec.from_ticks(ticks))

        local = self.exchange_now().astimezone(CHINA)
        fields = {
            "InstrumentID": inst.instrument_id,
            "ExchangeID": inst.exchange_id,
            "BidPrice1": price(market.bid),
            "AskPrice1": price(market.ask),
            "BidVolume1": market.bid_size if market.bid is not None else 0,
            "AskVolume1": market.ask_size if market.ask is not None else 0,
            "LastPrice": price(market.last),
            "UpperLimitPrice": price(band[1] if band else None),
            "LowerLimitPrice": price(band[0] if band else None),
            "PreSettlementPrice": price(market.reference),
            "SettlementPrice": DBL_MAX,
            "UpdateTime": local.strftime("%H:%M:%S"),
            "UpdateMillisec": local.microsecond // 1000,
            "TradingDay": self.trading_day,
            "ActionDay": local.strftime("%Y%m%d"),
        }
        return Struct(self.binding.md.CThostFtdcDepthMarketDataField, fields)

    def _publish(self, cid: ContractId) -> None:
        inst = self.instruments[cid]
        for session in self.md_sessions:
            if inst.instrument_id in session.subscribed:
                session.deliver(Call("OnRtnDepthMarketData", (self._depth(inst),)))

    def set_quote(
        self,
        cid: ContractId,
        bid: int | None,
        ask: int | None,
        bid_size: int = 10,
        ask_size: int = 10,
    ) -> None:
        """A new top of book (``None``: that side is empty); resting orders match."""
        market = self.markets[cid]
        market.bid, market.ask, market.bid_size, market.ask_size = bid, ask, bid_size, ask_size
        if market.reference is None and bid is not None and ask is not None:
            self.set_reference_price(cid, (bid + ask) // 2)
        if bid is not None and ask is not None:
            from bastion.testing.venue_stubs import quote

            self.exchange.on_quote(
                quote(
                    bid,
                    ask,
                    bid_size=bid_size,
                    ask_size=ask_size,
                    at=self.clock.now(),
                    contract_id=cid,
                )
            )
        self._publish(cid)
        self._translate(self.exchange.poll_events())

    def print_trade(self, cid: ContractId, price: int, size: int) -> None:
        from bastion.testing.venue_stubs import trade

        self.markets[cid].last = price
        self.exchange.on_trade(trade(price, size, at=self.clock.now(), contract_id=cid))
        self._publish(cid)
        self._translate(self.exchange.poll_events())

    def set_reference_price(self, cid: ContractId, ticks: int) -> None:
        """The previous settlement: the centre of the day's limits."""
        self.markets[cid].reference = ticks
        self.exchange.set_reference_price(cid, ticks)
        self._publish(cid)

    def set_status(self, product: str, status: str) -> None:
        """A product's trading phase (``2`` continuous, ``6`` closed, ``1`` no trading)."""
        self.status[product] = status
        call = Call("OnRtnInstrumentStatus", (self._status_struct(product, status),))
        for session in self.sessions:
            if session.logged_in:
                session.deliver(call)

    def set_session_open(self, is_open: bool) -> None:
        self.session_open = is_open
        for product in {i.spec.contract.symbol_root for i in self.instruments.values()}:
            self.set_status(product, "2" if is_open else "6")

    def halt(self, cid: ContractId) -> None:
        self.exchange.halt(cid)
        self.set_status(self.instruments[cid].spec.contract.symbol_root, "1")

    def end_of_day(self) -> None:
        """The close: the exchange's day orders end (CTP shows them canceled)."""
        for product in {i.spec.contract.symbol_root for i in self.instruments.values()}:
            self.set_status(product, "6")
        self.exchange.end_of_day()
        self._translate(self.exchange.poll_events())

    def advance(self) -> None:
        self.exchange.advance()
        self._translate(self.exchange.poll_events())

    def roll_day(self, trading_day: str) -> None:
        """A new trading day: today's books become yesterday's, the flow starts empty,
        settlement must be confirmed again."""
        self.end_of_day()
        for book in self.books.values():
            for side in ("long", "short"):
                book[f"{side}_yesterday"] += book[f"{side}_today"]
                book[f"{side}_today"] = 0
        self.trading_day = trading_day
        self.flow.clear()
        self.orders.clear()
        self.trades.clear()
        self.set_session_open(True)
