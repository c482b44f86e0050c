"""Instruments, contracts and their specifications; exact tick arithmetic.

Inside the core, prices are integers counted in ticks and quantities are integers
counted in lots (ARCHITECTURE.md, performance budget). ``Decimal`` appears only at the
edges; the conversions here are exact and refuse anything that is not on the tick.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum

from bastion.domain.ids import ContractId, InstrumentId

__all__ = [
    "Contract",
    "ContractDates",
    "ContractSpec",
    "OffTickError",
    "Rounding",
    "SessionWindow",
    "contract_id",
    "parse_contract_id",
    "to_decimal",
]

_CONTRACT_RE = re.compile(r"^(?P<instrument>[A-Za-z0-9_.\-]+)/(?P<month>\d{6})(?P<day>\d{2})?$")


class OffTickError(ValueError):
    """A price that is not a whole number of ticks."""


class Rounding(StrEnum):
    NEAREST = "nearest"
    DOWN = "down"  # towards minus infinity: a passive buy price
    UP = "up"  # towards plus infinity: a passive sell price


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Parse an exact decimal; floats are refused (they are not exact)."""
    if isinstance(value, float):  # pragma: no cover - guarded by the type, kept for callers
        raise TypeError("floats are not exact; pass a string or Decimal")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One trading session in exchange local time. ``end`` before ``start`` crosses midnight."""

    start: dt.time
    end: dt.time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What Bastion must know to trade an instrument's contracts (R2.1)."""

    instrument_id: InstrumentId
    exchange: str
    currency: str
    tick_size: Decimal
    multiplier: Decimal
    margin_rate: Decimal = Decimal("0.1")
    price_band: Decimal | None = None
    """Daily limit as a fraction of the previous settlement (0.05 = +/-5 %), if any."""
    timezone: str = "UTC"
    sessions: tuple[SessionWindow, ...] = field(default_factory=tuple)
    expiry_rule: str = ""
    """The last trade day of a contract (``bastion.marketdata.expiry``); "": unknown."""
    last_trade_rule: str = ""
    symbol_root: str = ""
    """The exchange's product code used in venue symbols (``ES``, ``rb``, ``MA``)."""
    delivery: str = ""
    """``cash`` or ``physical`` settlement; "" when the spec does not say."""
    first_notice_rule: str = ""
    """Physical delivery: the first notice day (the same rule grammar as ``expiry_rule``)."""
    allows_negative_prices: bool = False
    """Whether the contract can trade at zero or below (WTI crude did in April 2020);
    otherwise a price must be positive, and a venue refuses one that is not."""

    def __post_init__(self) -> None:
        if self.tick_size <= 0:
            raise ValueError(
                f"{self.instrument_id}: tick size must be positive, got {self.tick_size}"
            )
        if self.multiplier <= 0:
            raise ValueError(
                f"{self.instrument_id}: multiplier must be positive, got {self.multiplier}"
            )
        if self.delivery not in ("", "cash", "physical"):
            raise ValueError(
                f"{self.instrument_id}: delivery must be cash or physical, got {self.delivery!r}"
            )
        if self.first_notice_rule and self.delivery != "physical":
            raise ValueError(f"{self.instrument_id}: a first notice rule needs delivery: physical")
        if not Decimal(0) <= self.margin_rate <= Decimal(1):
            raise ValueError(
                f"{self.instrument_id}: margin rate must be in [0, 1], got {self.margin_rate}"
            )

    @property
    def tick_value(self) -> Decimal:
        """Money value of one tick on one lot."""
        return self.tick_size * self.multiplier

    def to_ticks(self, price: Decimal | str | int) -> int:
        """Exact conversion; raises ``OffTickError`` for a price not on the tick."""
        value = price if isinstance(price, Decimal) else to_decimal(price)
        ticks, remainder = divmod(value, self.tick_size)
        if remainder != 0:
            raise OffTickError(
                f"{self.instrument_id}: price {value} is not a multiple"
                f" of the tick {self.tick_size}"
            )
        return int(ticks)

    def round_to_ticks(
        self, price: Decimal | str | int, rounding: Rounding = Rounding.NEAREST
    ) -> int:
        """The tick count nearest to ``price`` in the given direction."""
        value = price if isinstance(price, Decimal) else to_decimal(price)
        mode = {
            Rounding.NEAREST: ROUND_HALF_EVEN,
            Rounding.DOWN: ROUND_FLOOR,
            Rounding.UP: ROUND_CEILING,
        }[rounding]
        return int((value / self.tick_size).to_integral_value(rounding=mode))

    def from_ticks(self, ticks: int) -> Decimal:
        """The exact price of ``ticks``."""
        return self.tick_size * ticks

    def price_text(self, ticks: int) -> str:
        """The price of ``ticks`` as a person reads it: price units with the tick's
        decimals and thousands separators (``4,948.75``, never ``19795`` ticks)."""
        places = max(0, -int(self.tick_size.normalize().as_tuple().exponent))
        return f"{self.from_ticks(ticks):,.{places}f}"

    def notional(self, ticks: int, lots: int) -> Decimal:
        """Money notional of ``lots`` at ``ticks`` (absolute value)."""
        return abs(self.from_ticks(ticks) * self.multiplier * lots)

    def margin(self, ticks: int, lots: int) -> Decimal:
        """Initial margin of ``lots`` at ``ticks``."""
        return self.notional(ticks, lots) * self.margin_rate


def contract_id(instrument: InstrumentId | str, expiry: str) -> ContractId:
    """``INSTRUMENT/YYYYMM`` (or ``YYYYMMDD`` for contracts that need the day)."""
    cid = f"{instrument}/{expiry}"
    parse_contract_id(cid)
    return ContractId(cid)


def parse_contract_id(cid: str) -> tuple[InstrumentId, str]:
    """Split a contract id into its instrument and expiry; a clear error if malformed."""
    match = _CONTRACT_RE.match(cid)
    if match is None:
        raise ValueError(f"contract id {cid!r} is not INSTRUMENT/YYYYMM")
    month = int(match["month"][4:6])
    if not 1 <= month <= 12:
        raise ValueError(f"contract id {cid!r} has month {month}, expected 01-12")
    expiry = match["month"] + (match["day"] or "")
    return InstrumentId(match["instrument"]), expiry


@dataclass(frozen=True, slots=True)
class Contract:
    """One expiry of an instrument."""

    contract_id: ContractId
    instrument_id: InstrumentId
    expiry: str
    """YYYYMM or YYYYMMDD."""
    venue_symbol: str = ""
    """The exchange's symbol, e.g. ``ESZ5``, ``rb2510``, ``MA609``."""
    last_trade_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ContractDates:
    contract_id: ContractId
    last_trade: dt.date
    first_notice: dt.date | None = None
    """Physically delivered contracts only."""

    @property
    def event(self) -> tuple[str, dt.date]:
        """The earlier of the two days, and its name."""
        if self.first_notice is not None and self.first_notice <= self.last_trade:
            return "first notice day", self.first_notice
        return "last trade day", self.last_trade
