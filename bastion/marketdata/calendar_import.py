"""A year of the China futures calendar, imported by the operator (R2.2).

The bundled calendar file ends with the last year the ``chinese-calendar`` package knew
when Bastion was released; past it, Chinese instruments refuse (nothing is guessed).
When the State Council publishes next year's holidays (usually in November), the
operator writes them in a small file and imports it::

    bastion data calendar import china-2027.yaml --profile P

The file::

    calendar: CN_FUTURES
    year: 2027
    source: State Council notice of 2026-11-xx (gov.cn), checked against the SHFE notice
    closed:                       # weekdays the exchanges are closed, with the holiday
      - 2027-01-01 New Year's Day
      - 2027-02-08 Spring Festival
    makeup_workdays:              # weekend days declared working days: NOT trading days
      - 2027-02-20
    no_night_sessions: []         # optional extra evenings without a night session

Validation (every problem is one line naming the entry): the calendar is CN_FUTURES;
the year follows the last one covered (no gaps); ``source`` says where the dates come
from; every date lies in the year; ``closed`` lists weekdays only (weekends are closed
anyway) with no repeats; ``makeup_workdays`` is stated (it may be empty) and lists
weekend days only: the exchanges stay closed on them, a make-up working Saturday is an
exchange holiday, never a trading day. Trading days are the weekdays not listed: no
weekday is guessed closed or open beyond what the file says.

The year is stored as ``<data dir>/calendars/CN_FUTURES/<year>.yaml`` with its source,
the file's name and SHA-256 and the time of import; ``bastion.marketdata.calendars``
reads those years after the bundled file once ``use_operator_calendars`` names the
data directory (every command that loads a profile does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bastion.errors import DataError
from bastion.marketdata._atomic import write_text

__all__ = ["ImportedYear", "import_year", "imported_years", "parse_year", "year_folder"]

CALENDAR = "CN_FUTURES"
_KEYS = {"calendar", "year", "source", "closed", "makeup_workdays", "no_night_sessions"}


@dataclass(frozen=True, slots=True)
class ImportedYear:
    year: int
    source: str
    closed: tuple[tuple[dt.date, str], ...]
    makeup_workdays: tuple[dt.date, ...]
    no_night_sessions: tuple[tuple[dt.date, dt.date], ...] = ()
    file: str = ""
    sha256: str = ""
    imported_at: str = ""

    def as_doc(self) -> dict[str, Any]:
        return {
            "calendar": CALENDAR,
            "year": self.year,
            "source": self.source,
            "file": self.file,
            "sha256": self.sha256,
            "imported_at": self.imported_at,
            "closed": [f"{d.isoformat()} {name}".rstrip() for d, name in self.closed],
            "makeup_workdays": [d.isoformat() for d in self.makeup_workdays],
            "no_night_sessions": [
                [a.isoformat(), b.isoformat()] for a, b in self.no_night_sessions
            ],
        }


def year_folder(data_dir: Path) -> Path:
    return Path(data_dir) / "calendars" / CALENDAR


def _date(text: object, where: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a date YYYY-MM-DD") from None


def _header(doc: object, where: str) -> tuple[int, str]:
    """The file's year and source, after its shape and keys are checked."""
    if not isinstance(doc, dict):
        raise DataError(f"{where}: expected a mapping with calendar, year, source, closed")
    unknown = set(doc) - _KEYS - {"file", "sha256", "imported_at"}
    if unknown:
        raise DataError(f"{where}: unknown keys {sorted(unknown)}, expected {sorted(_KEYS)}")
    if doc.get("calendar") != CALENDAR:
        raise DataError(f"{where}: calendar {doc.get('calendar')!r}, expected {CALENDAR}")
    year = doc.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2200:
        raise DataError(f"{where}: year {year!r}, expected a year such as 2027")
    source = str(doc.get("source") or "").strip()
    if not source:
        raise DataError(
            f"{where}: source is missing: say where the dates come from (the State"
            " Council notice, the exchange's holiday notice)"
        )
    if "makeup_workdays" not in doc:
        raise DataError(
            f"{where}: makeup_workdays is missing: list the weekend days declared working"
            " days (they stay exchange holidays), or [] if there are none"
        )
    return year, source


def _closed(entries: object, year: int, where: str) -> list[tuple[dt.date, str]]:
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{where}: closed must list the year's weekday holidays")
    closed: list[tuple[dt.date, str]] = []
    for entry in entries:
        text_entry = str(entry).strip()
        day = _date(text_entry, f"{where}: closed")
        name = text_entry[10:].strip() if not isinstance(entry, dt.date) else ""
        if day.year != year:
            raise DataError(f"{where}: closed {day} is not in {year}")
        if day.weekday() >= 5:
            raise DataError(
                f"{where}: closed {day} is a {day:%A}: weekends are closed anyway; a weekend"
                " day declared a working day goes under makeup_workdays"
            )
        if any(day == d for d, _ in closed):
            raise DataError(f"{where}: closed {day} is listed twice")
        closed.append((day, name))
    return closed


def _makeup(entries: object, year: int, where: str) -> list[dt.date]:
    if entries is not None and not isinstance(entries, list):
        raise DataError(f"{where}: makeup_workdays must be a list of dates (or [])")
    makeup: list[dt.date] = []
    for entry in entries or []:
        day = _date(entry, f"{where}: makeup_workdays")
        if day.year != year:
            raise DataError(f"{where}: makeup_workdays {day} is not in {year}")
        if day.weekday() < 5:
            raise DataError(
                f"{where}: makeup_workdays {day} is a {day:%A}: a make-up working day is a"
                " weekend day (the exchanges stay closed on it); a weekday is never guessed"
            )
        if day in makeup:
            raise DataError(f"{where}: makeup_workdays {day} is listed twice")
        makeup.append(day)
    return makeup


def _nights(entries: object, year: int, where: str) -> list[tuple[dt.date, dt.date]]:
    if entries is not None and not isinstance(entries, list):
        raise DataError(f"{where}: no_night_sessions must be a list of [first, last] evenings")
    nights: list[tuple[dt.date, dt.date]] = []
    for entry in entries or []:
        if not isinstance(entry, list) or len(entry) != 2:
            raise DataError(f"{where}: no_night_sessions entries are [first, last] evenings")
        first, last = (_date(e, f"{where}: no_night_sessions") for e in entry)
        if first > last or first.year != year or last.year != year:
            raise DataError(f"{where}: no_night_sessions [{first}, {last}] must lie in {year}")
        nights.append((first, last))
    return nights


def parse_year(text: str, where: str) -> ImportedYear:
    """Validate a year file (see the module docstring); a ``DataError`` per problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{where}: not valid YAML ({exc})") from None
    year, source = _header(doc, where)
    return ImportedYear(
        year=year,
        source=source,
        closed=tuple(sorted(_closed(doc.get("closed"), year, where))),
        makeup_workdays=tuple(sorted(_makeup(doc.get("makeup_workdays"), year, where))),
        no_night_sessions=tuple(_nights(doc.get("no_night_sessions"), year, where)),
        file=str(doc.get("file", "")),
        sha256=str(doc.get("sha256", "")),
        imported_at=str(doc.get("imported_at", "")),
    )


def imported_years(data_dir: Path) -> list[ImportedYear]:
    """The years imported into ``data_dir``, oldest first."""
    folder = year_folder(data_dir)
    if not folder.is_dir():
        return []
    return [
        parse_year(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(folder.glob("*.yaml"))
    ]


def import_year(
    path: Path, data_dir: Path, covered_until: dt.date, *, now: dt.datetime, replace: bool = False
) -> tuple[ImportedYear, Path]:
    """Validate the year file at ``path`` and store it in ``data_dir``. The year must be
    the one after ``covered_until`` (the calendar's end so far), or an imported year
    again with ``replace``. Nothing is written if anything is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    year = parse_year(text, str(path))
    target = year_folder(data_dir) / f"{year.year}.yaml"
    if target.exists() and not replace:
        raise DataError(
            f"{year.year} is already imported ({target}); pass --replace to import it again"
        )
    if not target.exists() and year.year != covered_until.year + 1:
        if year.year <= covered_until.year:
            raise DataError(
                f"{year.year} is already in the calendar (it covers to {covered_until});"
                " only the next year can be imported"
            )
        raise DataError(
            f"the calendar covers to {covered_until}: import {covered_until.year + 1} before"
            f" {year.year} (no gaps)"
        )
    stored = ImportedYear(
        year=year.year,
        source=year.source,
        closed=year.closed,
        makeup_workdays=year.makeup_workdays,
        no_night_sessions=year.no_night_sessions,
        file=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        imported_at=now.isoformat(),
    )
    header = "# A year of the China futures calendar, imported by 'bastion data calendar import'.\n"
    write_text(
        header + yaml.safe_dump(stored.as_doc(), sort_keys=False, allow_unicode=True), target
    )
    return stored, target
