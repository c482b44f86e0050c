"""Market data from CTP's MD API, and instrument status from the trader API, as a
``MarketView`` for the risk engine's market guard and the algos.

- Quotes: bid/ask/last with sizes, the day's limits (``UpperLimitPrice`` /
  ``LowerLimitPrice``) as the published band, and the previous settlement; empty values
  (DBL_MAX, zero) are unknown, never prices.
- **Stuck at a limit** is its own visible state (``limit_state``): the book is one-sided
  at the upper (lower) limit, with no ask (bid). The quote then says ``halted``, as the
  domain's quote does for a limit lock, so nothing new is sent into it.
- Instrument status (``OnRtnInstrumentStatus``, per product or per instrument): a closed
  or pre-open phase is out of session, ``NoTrading`` is a halt. Without a status the
  contract's session windows decide.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

from bastion.domain.ids import ContractId
from bastion.domain.market import MarketQuote
from bastion.venues.ctp.codes import InstrumentStatus
from bastion.venues.ctp.instruments import CtpContract, CtpContracts, to_ticks_or_none
from bastion.venues.ctp.parsing import DepthQuote, StatusReport

__all__ = ["CtpMarket", "LimitState"]

LimitState = str
"""``limit_up``, ``limit_down`` or empty."""

_OPEN = {
    InstrumentStatus.CONTINUOUS,
    InstrumentStatus.AUCTION_ORDERING,
    InstrumentStatus.AUCTION_BALANCE,
    InstrumentStatus.AUCTION_MATCH,
}


class CtpMarket:
    """The latest quote and trading phase per contract (thread-safe reads)."""

    def __init__(self, contracts: CtpContracts) -> None:
        self._contracts = contracts
        self._quotes: dict[ContractId, MarketQuote] = {}
        self._status: dict[str, str] = {}
        self._limits: dict[ContractId, LimitState] = {}
        self._lock = threading.Lock()

    def on_quote(self, contract: CtpContract, quote: DepthQuote, when: dt.datetime) -> MarketQuote:
        spec = contract.spec
        upper = to_ticks_or_none(spec, quote.upper_limit)
        lower = to_ticks_or_none(spec, quote.lower_limit)
        bid = to_ticks_or_none(spec, quote.bid)
        ask = to_ticks_or_none(spec, quote.ask)
        state = ""
        if upper is not None and bid == upper and ask is None:
            state = "limit_up"
        elif lower is not None and ask == lower and bid is None:
            state = "limit_down"
        found = MarketQuote(
            contract_id=contract.contract_id,
            bid_ticks=bid,
            ask_ticks=ask,
            last_ticks=to_ticks_or_none(spec, quote.last),
            last_tick_at=when,
            halted=bool(state) or self._halted(contract),
            settlement_ticks=to_ticks_or_none(spec, quote.pre_settlement),
            band=(lower, upper) if upper is not None and lower is not None else None,
            bid_size=quote.bid_volume if bid is not None else 0,
            ask_size=quote.ask_volume if ask is not None else 0,
        )
        with self._lock:
            self._quotes[contract.contract_id] = found
            self._limits[contract.contract_id] = state
        return found

    def on_status(self, report: StatusReport) -> None:
        with self._lock:
            self._status[report.instrument_id] = report.status
            for contract in self._contracts.all():
                if report.instrument_id in (contract.instrument_id, contract.spec.symbol_root):
                    current = self._quotes.get(contract.contract_id)
                    if current is not None:
                        halted = bool(self._limits.get(contract.contract_id)) or (
                            report.status == InstrumentStatus.NO_TRADING
                        )
                        self._quotes[contract.contract_id] = replace(current, halted=halted)

    def status(self, contract: CtpContract) -> str | None:
        """The latest trading phase code for the contract (or its product), if any."""
        with self._lock:
            found = self._status.get(contract.instrument_id)
            return found if found is not None else self._status.get(contract.spec.symbol_root)

    def _halted(self, contract: CtpContract) -> bool:
        return self.status(contract) == InstrumentStatus.NO_TRADING

    def limit_state(self, contract_id: ContractId) -> LimitState:
        with self._lock:
            return self._limits.get(contract_id, "")

    def quote(self, contract_id: ContractId) -> MarketQuote | None:
        with self._lock:
            return self._quotes.get(contract_id)

    def in_session(self, contract_id: ContractId, when: dt.datetime) -> bool:
        """Open unless CTP's status says otherwise; without a status, open (the spec's
        calendar is the caller's: this view knows only what CTP said)."""
        contract = self._contracts.get(contract_id)
        return contract is None or self.session_open(contract) is not False

    def session_open(self, contract: CtpContract) -> bool | None:
        """Whether CTP says the contract trades now; ``None`` when it has not said."""
        status = self.status(contract)
        if status is None:
            return None
        return status in _OPEN
