"""Contract specifications shipped as data (R2.1), and each exchange's symbol rules.

The bundled specs live in ``bastion/marketdata/specs/*.yaml`` (CME group, ICE, Eurex,
and the six Chinese exchanges). A user extends or overrides them with their own YAML
file in the same shape: an instrument id that already exists is replaced, a new one is
added. Unknown keys, bad numbers and bad sessions are errors naming file and key.

Symbol styles (venue symbols, as the exchange writes them):

==============  ===========  =====================================================
style           example      rule
==============  ===========  =====================================================
``month_code``  ``ESZ5``     root + month letter + last digit of the year (CME, ICE,
                             Eurex, as IB's local symbols and most vendors do)
``yymm_lower``  ``rb2510``   lower-case root + two-digit year + month (SHFE, DCE,
                             INE, GFEX)
``yymm_upper``  ``IF2506``   upper-case root + two-digit year + month (CFFEX)
``ymm_upper``   ``MA609``    upper-case root + one-digit year + month (CZCE)
==============  ===========  =====================================================

Short years are resolved against a reference date (a bar's own date when importing):
a one-digit year is the one in ``[reference year - 1, reference year + 8]`` ending in
that digit; a two-digit year the one in ``[reference year - 50, reference year + 49]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bastion.domain.contracts import ContractSpec, SessionWindow, contract_id
from bastion.domain.ids import ContractId, InstrumentId
from bastion.errors import DataError

__all__ = [
    "MAX_PRICE_TICKS",
    "MAX_VOLUME",
    "MONTH_CODES",
    "MarketSpec",
    "SpecRegistry",
    "parse_venue_symbol",
    "venue_symbol",
]

MONTH_CODES = "FGHJKMNQUVXZ"
"""Futures month letters, January to December."""

SYMBOL_STYLES = ("month_code", "yymm_lower", "yymm_upper", "ymm_upper")
_PRODUCT_KEYS = {
    "root", "name", "tick_size", "multiplier", "margin_rate", "price_band", "currency",
    "timezone", "calendar", "symbol_style", "sessions", "months", "expiry_rule",
    "last_trade_rule", "negative_prices", "min_price", "max_price", "max_volume", "delivery",
    "first_notice_rule",
}  # fmt: skip
MAX_PRICE_TICKS = 10**9
"""Default bound on a price's size, in ticks: beyond a billion ticks a float64 price can
no longer be told on or off the tick (1e-6 of a tick), so no import accepts it."""
MAX_VOLUME = 10**9
"""Default bound on a bar's volume and open interest, in lots: a thousand times the
busiest futures contract's daily volume."""
_REQUIRED = ("tick_size", "multiplier", "currency", "timezone", "calendar", "symbol_style")
_SESSION_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A ``ContractSpec`` plus what market data needs: calendar, months, symbol style."""

    contract: ContractSpec
    name: str
    calendar: str
    """``CN_FUTURES`` for China's exchanges, else an exchange_calendars name (``CMES``)."""
    symbol_style: str
    months: str
    """Listed contract months as futures month letters, e.g. ``HMUZ``."""
    negative_prices: bool = False
    """Whether the market can trade at or below zero (WTI crude did on 2020-04-20)."""
    max_price: Decimal | None = None
    """Largest size of a price a bar may have; ``None``: ``MAX_PRICE_TICKS`` ticks."""
    min_price: Decimal | None = None
    """Lowest price a bar may have (below zero only with ``negative_prices``); ``None``:
    any price above zero (any size, with ``negative_prices``)."""
    max_volume: int = MAX_VOLUME
    """Largest volume (and open interest) of one bar, in lots."""

    @property
    def price_limit(self) -> Decimal:
        """The largest size of a price accepted in bars of this instrument."""
        if self.max_price is not None:
            return self.max_price
        return self.contract.tick_size * MAX_PRICE_TICKS

    @property
    def instrument_id(self) -> InstrumentId:
        return self.contract.instrument_id

    @property
    def exchange(self) -> str:
        return self.contract.exchange

    @property
    def tick_size(self) -> Decimal:
        return self.contract.tick_size

    @property
    def has_night_session(self) -> bool:
        return any(s.start.hour >= 18 for s in self.contract.sessions)

    def listed_months(self) -> tuple[int, ...]:
        return tuple(MONTH_CODES.index(c) + 1 for c in self.months)


class SpecRegistry(Mapping[str, MarketSpec]):
    """Specs by instrument id; lookups of unknown ids raise a ``DataError``."""

    def __init__(self, specs: Iterable[MarketSpec] = ()) -> None:
        self._specs: dict[str, MarketSpec] = {s.instrument_id: s for s in specs}

    def __getitem__(self, key: str) -> MarketSpec:
        try:
            return self._specs[key]
        except KeyError:
            raise DataError(
                f"unknown instrument {key!r}: not in the contract specs "
                "(add it with a user spec file)"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._specs

    def get(self, key: str, default: MarketSpec | None = None) -> MarketSpec | None:  # type: ignore[override]
        return self._specs.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    @classmethod
    def bundled(cls) -> SpecRegistry:
        """The specs shipped with Bastion (a new registry; the files are read once)."""
        return cls(_bundled_specs())

    @classmethod
    def load(cls, user_files: Iterable[Path] = ()) -> SpecRegistry:
        """Bundled specs, extended or overridden by the user's files, in order."""
        registry = cls.bundled()
        for path in user_files:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise DataError(f"{path}: cannot read spec file ({exc.strerror})") from exc
            registry.add_all(_parse_file(text, str(path)))
        return registry

    def add_all(self, specs: Iterable[MarketSpec]) -> None:
        for spec in specs:
            self._specs[spec.instrument_id] = spec

    def by_root(self, root: str) -> MarketSpec | None:
        """The spec whose venue symbol root is ``root`` (case-sensitive), if any."""
        for spec in self._specs.values():
            if spec.contract.symbol_root == root:
                return spec
        return None


@functools.cache
def _bundled_specs() -> tuple[MarketSpec, ...]:
    """The bundled files' specs, parsed once (specs are immutable; registries copy)."""
    specs: dict[str, MarketSpec] = {}
    folder = resources.files("bastion.marketdata") / "specs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            for spec in _parse_file(entry.read_text(encoding="utf-8"), entry.name):
                specs[spec.instrument_id] = spec
    return tuple(specs.values())


def venue_symbol(spec: MarketSpec, expiry: str) -> str:
    """The exchange's symbol for the contract expiring in ``expiry`` (``YYYYMM``)."""
    year, month = int(expiry[:4]), int(expiry[4:6])
    root = spec.contract.symbol_root
    style = spec.symbol_style
    if style == "month_code":
        return f"{root}{MONTH_CODES[month - 1]}{year % 10}"
    if style == "yymm_lower":
        return f"{root.lower()}{year % 100:02d}{month:02d}"
    if style == "yymm_upper":
        return f"{root.upper()}{year % 100:02d}{month:02d}"
    return f"{root.upper()}{year % 10}{month:02d}"  # ymm_upper (CZCE)


_SYMBOL_RES = {
    "month_code": re.compile(r"^(?P<root>.+?)(?P<m>[FGHJKMNQUVXZ])(?P<y>\d{1,2})$"),
    "yymm_lower": re.compile(r"^(?P<root>[a-z]+)(?P<y>\d{2})(?P<m>\d{2})$"),
    "yymm_upper": re.compile(r"^(?P<root>[A-Z]+)(?P<y>\d{2})(?P<m>\d{2})$"),
    "ymm_upper": re.compile(r"^(?P<root>[A-Z]+)(?P<y>\d)(?P<m>\d{2})$"),
}


def parse_venue_symbol(registry: SpecRegistry, symbol: str, reference: dt.date) -> ContractId:
    """The contract id for an exchange symbol (``rb2510`` -> ``rb/202510``)."""
    for style, pattern in _SYMBOL_RES.items():
        match = pattern.match(symbol)
        if match is None:
            continue
        spec = registry.by_root(match["root"])
        if spec is None or spec.symbol_style != style:
            continue
        digits = match["y"]
        month = MONTH_CODES.index(match["m"]) + 1 if style == "month_code" else int(match["m"])
        if not 1 <= month <= 12:
            break
        year = _resolve_year(digits, reference)
        return contract_id(spec.instrument_id, f"{year:04d}{month:02d}")
    raise DataError(f"unknown contract symbol {symbol!r}: no instrument spec matches it")


def _resolve_year(digits: str, reference: dt.date) -> int:
    modulus = 10 ** len(digits)
    low = reference.year - (1 if len(digits) == 1 else 50)
    year: int = low - low % modulus + int(digits)
    return year + modulus if year < low else year


# ---------------------------------------------------------------- file parsing


def _parse_file(text: str, source: str) -> list[MarketSpec]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("exchanges"), dict):
        raise DataError(f"{source}: expected a mapping with an 'exchanges' section")
    unknown = set(doc) - {"version", "defaults", "session_sets", "exchanges"}
    if unknown:
        raise DataError(f"{source}: unknown top-level keys {sorted(unknown)}")
    defaults: dict[str, Any] = dict(doc.get("defaults") or {})
    session_sets: dict[str, Any] = dict(doc.get("session_sets") or {})
    specs: list[MarketSpec] = []
    for exchange, products in doc["exchanges"].items():
        if not isinstance(products, dict):
            raise DataError(f"{source}: exchange {exchange} must map instrument ids to specs")
        exchange_defaults = {**defaults, **(products.get("_defaults") or {})}
        for instrument, fields in products.items():
            if instrument == "_defaults":
                continue
            where = f"{source}: {exchange}.{instrument}"
            if not isinstance(fields, dict):
                raise DataError(f"{where}: expected a mapping of fields")
            merged = {**exchange_defaults, **fields}
            specs.append(_make_spec(str(instrument), str(exchange), merged, session_sets, where))
    return specs


def _make_spec(
    instrument: str, exchange: str, raw: dict[str, Any], session_sets: dict[str, Any], where: str
) -> MarketSpec:
    unknown = set(raw) - _PRODUCT_KEYS
    if unknown:
        raise DataError(f"{where}: unknown keys {sorted(unknown)}, expected some of "
                        f"{sorted(_PRODUCT_KEYS)}")  # fmt: skip
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise DataError(f"{where}: missing keys {missing}")
    style = str(raw["symbol_style"])
    if style not in SYMBOL_STYLES:
        raise DataError(f"{where}: symbol_style {style!r}, expected one of {SYMBOL_STYLES}")
    months = str(raw.get("months", MONTH_CODES))
    if not months or any(c not in MONTH_CODES for c in months):
        raise DataError(f"{where}: months {months!r}, expected month letters from {MONTH_CODES}")
    sessions = raw.get("sessions", [])
    if isinstance(sessions, str):
        if sessions not in session_sets:
            raise DataError(f"{where}: unknown session set {sessions!r}")
        sessions = session_sets[sessions]
    try:
        contract = ContractSpec(
            instrument_id=InstrumentId(instrument),
            exchange=exchange,
            currency=str(raw["currency"]),
            tick_size=_decimal(raw["tick_size"], where, "tick_size"),
            multiplier=_decimal(raw["multiplier"], where, "multiplier"),
            margin_rate=_decimal(raw.get("margin_rate", "0.1"), where, "margin_rate"),
            price_band=(
                _decimal(raw["price_band"], where, "price_band") if "price_band" in raw else None
            ),
            timezone=str(raw["timezone"]),
            sessions=tuple(_session(s, where) for s in sessions),
            expiry_rule=str(raw.get("expiry_rule", "")),
            last_trade_rule=str(raw.get("last_trade_rule", "")),
            symbol_root=str(raw.get("root", instrument)),
            delivery=str(raw.get("delivery", "")),
            first_notice_rule=str(raw.get("first_notice_rule", "")),
        )
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from exc
    negative = raw.get("negative_prices", False)
    if not isinstance(negative, bool):
        raise DataError(f"{where}: negative_prices {negative!r}, expected true or false")
    max_price = _decimal(raw["max_price"], where, "max_price") if "max_price" in raw else None
    if max_price is not None and not 0 < max_price <= contract.tick_size * MAX_PRICE_TICKS:
        raise DataError(
            f"{where}: max_price {max_price} must be above 0 and at most {MAX_PRICE_TICKS:,}"
            f" ticks ({contract.tick_size * MAX_PRICE_TICKS:f})"
        )
    min_price = _min_price(raw, where, contract.tick_size, negative=negative, top=max_price)
    max_volume = raw.get("max_volume", MAX_VOLUME)
    if (
        isinstance(max_volume, bool)
        or not isinstance(max_volume, int)
        or not (0 < max_volume <= MAX_VOLUME)
    ):
        raise DataError(
            f"{where}: max_volume {max_volume!r}, expected a whole number from 1 to {MAX_VOLUME}"
        )
    return MarketSpec(
        contract,
        str(raw.get("name", instrument)),
        str(raw["calendar"]),
        style,
        months,
        negative_prices=negative,
        max_price=max_price,
        max_volume=max_volume,
        min_price=min_price,
    )


def _min_price(
    raw: dict[str, Any], where: str, tick: Decimal, *, negative: bool, top: Decimal | None
) -> Decimal | None:
    """The spec's ``min_price``: above zero unless ``negative_prices``, below
    ``max_price``, and within ``MAX_PRICE_TICKS`` ticks of zero."""
    if "min_price" not in raw:
        return None
    low = _decimal(raw["min_price"], where, "min_price")
    if low <= 0 and not negative:
        raise DataError(
            f"{where}: min_price {low} must be above 0 (prices at or below zero need"
            " negative_prices: true)"
        )
    if abs(low) > tick * MAX_PRICE_TICKS:
        raise DataError(f"{where}: min_price {low} is beyond {MAX_PRICE_TICKS:,} ticks")
    if top is not None and low >= top:
        raise DataError(f"{where}: min_price {low} must be below max_price {top}")
    return low


def _decimal(value: object, where: str, key: str) -> Decimal:
    if isinstance(value, float):
        raise DataError(f"{where}: {key} {value!r} must be quoted (a string) to stay exact")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise DataError(f"{where}: {key} {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise DataError(f"{where}: {key} {value!r} is not a finite number")
    return result


def _session(text: object, where: str) -> SessionWindow:
    match = _SESSION_RE.match(str(text))
    if match is None:
        raise DataError(f"{where}: session {text!r}, expected 'HH:MM-HH:MM' in exchange time")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        return SessionWindow(dt.time(h1, m1), dt.time(h2, m2))
    except ValueError:
        raise DataError(f"{where}: session {text!r} is not a valid time range") from None
