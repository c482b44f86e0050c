"""Contracts as CTP names them, and prices as CTP sends them.

``rb/202410`` (Bastion) is ``rb2410`` on ``SHFE`` (CTP's InstrumentID and ExchangeID),
by the exchange's symbol style in the bundled specs. Prices travel as doubles; they are
converted to ticks exactly: the double's shortest decimal form must lie on the tick
(``to_ticks``), otherwise the price is refused, never rounded.

Exchange rules kept here (VENUES.md): on SHFE and INE today's and yesterday's positions
are separate books and a close of today's position must say CloseToday
(``CLOSE_TODAY_EXCHANGES``); elsewhere a close says Close and the exchange closes the
oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from bastion.domain.contracts import ContractSpec, OffTickError, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.marketdata.specs import MarketSpec, venue_symbol

__all__ = ["CLOSE_TODAY_EXCHANGES", "CtpContract", "CtpContracts", "exchange_time"]

CLOSE_TODAY_EXCHANGES = frozenset({"SHFE", "INE"})
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class CtpContract:
    contract_id: ContractId
    instrument_id: str
    exchange_id: str
    spec: ContractSpec

    @property
    def splits_today(self) -> bool:
        """Whether closes must name today's or yesterday's book (SHFE, INE)."""
        return self.exchange_id in CLOSE_TODAY_EXCHANGES


class CtpContracts:
    """The profile's contracts, both ways."""

    def __init__(self, specs: Mapping[ContractId, MarketSpec]) -> None:
        self._by_id: dict[ContractId, CtpContract] = {}
        self._by_symbol: dict[str, CtpContract] = {}
        for cid, market in specs.items():
            _, expiry = parse_contract_id(cid)
            symbol = venue_symbol(market, expiry[:6])
            found = CtpContract(cid, symbol, market.exchange, market.contract)
            self._by_id[cid] = found
            self._by_symbol[symbol] = found

    def __contains__(self, contract_id: object) -> bool:
        return contract_id in self._by_id

    def __iter__(self) -> object:
        return iter(self._by_id.values())

    def all(self) -> list[CtpContract]:
        return list(self._by_id.values())

    def get(self, contract_id: ContractId) -> CtpContract | None:
        return self._by_id.get(contract_id)

    def by_symbol(self, instrument_id: str) -> CtpContract | None:
        return self._by_symbol.get(instrument_id)

    @property
    def specs(self) -> dict[ContractId, ContractSpec]:
        return {cid: c.spec for cid, c in self._by_id.items()}


def to_ticks(spec: ContractSpec, price: float) -> int:
    """The exact tick count of a CTP price; ``OffTickError`` if it is not on the tick."""
    return spec.to_ticks(Decimal(repr(price)))


def to_ticks_or_none(spec: ContractSpec, price: float | None) -> int | None:
    if price is None:
        return None
    try:
        return to_ticks(spec, price)
    except OffTickError:
        return None


def to_price(spec: ContractSpec, ticks: int) -> float:
    return float(spec.from_ticks(ticks))


def exchange_time(
    trading_day: str,
    clock_time: str,
    previous_trading_day: dt.date | None,
    *,
    millis: int = 0,
) -> dt.datetime | None:
    """When an exchange time stamp (``HH:MM:SS``, Beijing time) happened, in UTC.

    The night session belongs to the next trading day and is held on the evening of the
    previous one (Friday night belongs to Monday): a time from 18:00 is on
    ``previous_trading_day``, a time before 03:00 on the day after it. ``None`` when the
    text cannot be read or the previous trading day is not known."""
    try:
        day = dt.datetime.strptime(trading_day, "%Y%m%d").date()  # noqa: DTZ007 - a date only
        clock = dt.time.fromisoformat(clock_time)
    except ValueError:
        return None
    if clock.hour >= 18 or clock.hour < 3:
        if previous_trading_day is None:
            return None
        day = previous_trading_day + (dt.timedelta(days=1) if clock.hour < 3 else dt.timedelta())
    local = dt.datetime.combine(day, clock, tzinfo=CHINA) + dt.timedelta(milliseconds=millis)
    return local.astimezone(dt.UTC)
