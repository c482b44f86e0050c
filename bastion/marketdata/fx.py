"""The rates file the data update writes, and each profile's ``FxTable`` (R2.1).

A profile's rates come from one place:

- ``fx.rates`` in a sim profile: fixed rates (no date, never stale), for sim sessions
  and backtests;
- otherwise the *rates file*, ``fx.file`` or ``<data.dir>/fx/rates.yaml``, written by
  ``bastion data fx import FILE`` from a CSV of ``currency,rate,date[,source]``. Each
  rate keeps the day it was observed and where it came from; a rate older than
  ``fx.max_age_days`` on the day it is used is stale (``bastion.domain.fx``).

The file (YAML, atomic writes)::

    base: USD
    rates:
      CNY: {rate: '0.1385', date: '2024-04-30', source: 'PBOC central parity'}

A file for another base currency, or one that cannot be read, gives a table with no
rates and says why: instruments in other currencies are refused, nothing is guessed.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from bastion.config import Profile
from bastion.domain.fx import FxRate, FxTable
from bastion.errors import DataError
from bastion.marketdata._atomic import write_text

__all__ = ["import_rates", "profile_fx", "rates_path", "read_rates", "write_rates"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def rates_path(profile: Profile) -> Path:
    """Where the profile's dated rates are read from."""
    return profile.fx.file or Path(profile.data.dir) / "fx" / "rates.yaml"


def profile_fx(profile: Profile) -> FxTable:
    """The profile's rates to its base currency (see the module docstring)."""
    base = profile.currency
    if profile.fx.rates:
        return FxTable.fixed(base, profile.fx.rates, "profile fx.rates")
    path = rates_path(profile)
    if not path.exists():
        return FxTable(base, {}, profile.fx.max_age_days, f"no rates file at {path}")
    try:
        file_base, rates = read_rates(path)
    except DataError as exc:
        return FxTable(base, {}, profile.fx.max_age_days, str(exc))
    if file_base != base:
        return FxTable(
            base,
            {},
            profile.fx.max_age_days,
            f"rates file {path} is for base {file_base}, the profile's currency is {base}",
        )
    return FxTable(base, rates, profile.fx.max_age_days, f"rates file {path}")


def read_rates(path: Path) -> tuple[str, dict[str, FxRate]]:
    """(base currency, rates) from a rates file; a ``DataError`` naming what is wrong."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"rates file {path}: cannot read it ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rates"), dict):
        raise DataError(f"rates file {path}: expected 'base' and a 'rates' mapping")
    base = str(doc.get("base", ""))
    if not _CURRENCY.match(base):
        raise DataError(f"rates file {path}: base {base!r} is not a currency code")
    rates: dict[str, FxRate] = {}
    for currency, entry in doc["rates"].items():
        where = f"rates file {path}: {currency}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected rate, date and source")
        rates[str(currency)] = _rate(
            str(currency), entry.get("rate"), entry.get("date"), entry.get("source"), where
        )
    return base, rates


def _rate(currency: str, rate: object, date: object, source: object, where: str) -> FxRate:
    if not _CURRENCY.match(currency):
        raise DataError(f"{where}: {currency!r} is not a currency code (three capitals)")
    if isinstance(rate, float):
        raise DataError(f"{where}: rate {rate!r} must be quoted to stay exact")
    try:
        value = Decimal(str(rate).strip())
    except InvalidOperation:
        raise DataError(f"{where}: rate {rate!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise DataError(f"{where}: rate {rate!r} must be a positive number")
    try:
        day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date).strip())
    except ValueError:
        raise DataError(f"{where}: date {date!r} is not YYYY-MM-DD") from None
    return FxRate(currency, value, day, str(source or "").strip())


def write_rates(path: Path, base: str, rates: Mapping[str, FxRate]) -> None:
    doc: dict[str, Any] = {
        "base": base,
        "rates": {
            c: {"rate": str(r.rate), "date": str(r.as_of), "source": r.source}
            for c, r in sorted(rates.items())
        },
    }
    header = "# Rates to the base currency, written by 'bastion data fx import'.\n"
    write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), path)


def import_rates(source: Path, target: Path, base: str) -> list[str]:
    """Merge the rates of a CSV (``currency,rate,date[,source]``) into the rates file at
    ``target``; the newer date of each currency wins. Every row is checked before
    anything is written. Returns one line per rate taken."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read it ({exc})") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"currency", "rate", "date"} <= set(rows[0]):
        raise DataError(f"{source}: expected a CSV with columns currency,rate,date[,source]")
    current: dict[str, FxRate] = {}
    if target.exists():
        file_base, current = read_rates(target)
        if file_base != base:
            raise DataError(f"rates file {target} is for base {file_base}, not {base}")
    taken: list[str] = []
    incoming: dict[str, FxRate] = {}
    for n, row in enumerate(rows, start=2):
        currency = (row.get("currency") or "").strip()
        where = f"{source} line {n}"
        rate = _rate(currency, row.get("rate"), row.get("date"), row.get("source") or "", where)
        if currency == base:
            raise DataError(f"{where}: {currency} is the base currency; its rate is 1")
        if currency in incoming:
            raise DataError(f"{where}: {currency} appears twice; one rate per currency")
        incoming[currency] = rate
    for currency, rate in incoming.items():
        old = current.get(currency)
        if old is not None and _older(rate, old):
            taken.append(f"{currency}: kept {old.rate} of {old.as_of} (newer than {rate.as_of})")
            continue
        current[currency] = rate
        taken.append(f"{currency}: {rate.rate} {base} per {currency}, dated {rate.as_of}")
    write_rates(target, base, current)
    return taken


def _older(new: FxRate, old: FxRate) -> bool:
    return new.as_of is not None and old.as_of is not None and new.as_of < old.as_of
