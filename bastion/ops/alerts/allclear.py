"""The daily all-clear: after the close, one message that says the day ended well.

Silence means nothing if a dead notifier is also silent; a daily message that arrives
every evening makes its absence the signal. ``daily_all_clear(store, profile, day)``
builds it from the journal (the single source of truth), for the profile's local day
(``alerts.timezone``):

- positions: Bastion's contract positions now (the journal's book);
- P&L: the equity at the close (``equity``, the kernel's latest account snapshot, else
  the last ``account.equity`` note the engine journaled for trading day ``day``, at its
  close or when it stopped, else the day's last one) less the day's starting equity (the
  loss limits' "day ``day`` starts at equity" ``risk.loss`` note, else the day's first
  ``account.equity`` note); "unknown" when either is missing, never a guess; plus the
  day's fills, lots and commissions, and the fills Bastion did not place (a trade by
  hand, another client: the venue's truth, held by ``UNATTRIBUTED``);
- breaks: the last ``reconcile`` note up to the day's end (every engine journals its
  first reconciliation, clean or not, and every change after it) and the instrument
  locks in force;
- trading state: every scope that is not ACTIVE;
- alerts: what the day's journal implies (by kind), and, from the outbox, how many were
  delivered, are still being retried, failed or were held back by the rate limit.

It is an all-clear (INFO) only when the last reconciliation was clean, no fill that day
was one Bastion did not place (even once adopted and unlocked: it was a break that
day), nothing is locked, every scope is ACTIVE and no critical alert fired that day;
otherwise it is a WARNING whose summary names what is not clear.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections import Counter
from decimal import Decimal, InvalidOperation

from bastion.config import Profile
from bastion.domain.records import FillRecorded, ForeignFillRecorded, Note
from bastion.ops.alerts.mapping import alerts_for_record
from bastion.ops.alerts.model import Alert, AlertKind, Severity, make_alert
from bastion.ops.alerts.outbox import Outbox, outbox_path
from bastion.risk.loss import EQUITY_NOTE
from bastion.store.sqlite import SqliteStore

__all__ = ["daily_all_clear", "day_bounds"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def day_bounds(day: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of ``day`` in ``zone``, as UTC."""
    tz = zoneinfo.ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def daily_all_clear(  # noqa: C901, PLR0912, PLR0915 - one report, read top to bottom
    store: SqliteStore,
    profile: Profile,
    day: dt.date,
    *,
    equity: Decimal | None = None,
    outbox: Outbox | None = None,
) -> Alert:
    """The day's all-clear (or not-clear) alert, from the journal and the outbox."""
    start, end = day_bounds(day, profile.alerts.timezone)
    start_us = int((start - _EPOCH).total_seconds() * 1_000_000)
    end_us = int((end - _EPOCH).total_seconds() * 1_000_000)
    fills = lots = foreign = 0
    commissions = Decimal(0)
    day_key = day.isoformat()
    day_start: Decimal | None = None
    day_close: Decimal | None = None
    first_equity: Decimal | None = None
    last_equity: Decimal | None = None
    last_recon: Note | None = None
    implied: Counter[str] = Counter()
    critical: list[str] = []
    for entry in store.entries():
        if entry.ts_us >= end_us:
            break
        record = entry.record
        if isinstance(record, Note) and record.kind == "reconcile":
            last_recon = record
        if isinstance(record, Note) and record.data.get("day") == day_key:
            value = _decimal(record.data.get("equity"))
            if record.kind == "risk.loss" and day_start is None:
                # The start itself (the previous close, or the first mark), not the mark
                # that started the day: "day D starts at equity X; ...".
                said = record.text.partition(f"day {day_key} starts at equity ")[2]
                day_start = _decimal(said.partition(";")[0].strip() or None)
            elif record.kind == EQUITY_NOTE and value is not None:
                day_close = value
        if entry.ts_us < start_us:
            continue
        if isinstance(record, FillRecorded):
            fills += 1
            lots += record.fill.quantity
            commissions += record.fill.commission
        elif isinstance(record, ForeignFillRecorded):
            foreign += 1
        elif isinstance(record, Note):
            value = _decimal(record.data.get("equity"))
            if record.kind == EQUITY_NOTE and value is not None:
                first_equity = value if first_equity is None else first_equity
                last_equity = value
            for alert in alerts_for_record(
                record,
                profile=profile.name,
                seq=entry.seq,
                clock_skew_seconds=profile.alerts.clock_skew_seconds,
            ):
                implied[alert.kind.value] += 1
                if alert.severity is Severity.CRITICAL:
                    critical.append(alert.summary)
    close_equity = equity if equity is not None else (day_close or last_equity)
    day_start = day_start if day_start is not None else first_equity

    held = {(i, c): q for (i, c), q in store.book.positions.contract.items() if q}
    positions = ", ".join(f"{c} {q:+d}" for (_, c), q in sorted(held.items())) if held else "flat"
    if day_start is not None and close_equity is not None:
        pnl_value = close_equity - day_start
        pnl = f"{pnl_value:+,.2f} {profile.currency}"
    else:
        pnl = (
            "unknown ("
            + (
                "no starting equity journaled that day"
                if day_start is None
                else "no equity at the close"
            )
            + ")"
        )
    locks_raw = store.get_state("recon.locks")
    locks: dict[str, dict[str, str]] = json.loads(locks_raw) if locks_raw else {}
    locked = sorted(k for k, v in locks.items() if v)
    if last_recon is None:
        breaks = "unknown (no reconciliation journaled)"
        breaks_clear = False
    elif last_recon.text == "clean":
        breaks = "none"
        breaks_clear = True
    else:
        breaks = last_recon.text
        breaks_clear = False
    states_raw = store.get_state("risk.states")
    states: dict[str, dict[str, str]] = json.loads(states_raw) if states_raw else {}
    tight = sorted(f"{scope} {s.get('state', '?').upper()}" for scope, s in states.items())

    mine = outbox
    if mine is None:
        path = outbox_path(profile.store.path)
        mine = Outbox(path) if path.exists() else None
    try:
        counts = mine.counts(start, end) if mine is not None else None
    finally:
        if outbox is None and mine is not None:
            mine.close()

    problems = []
    if not breaks_clear:
        problems.append(f"breaks {breaks}")
    if foreign:
        problems.append(f"{foreign} fill{'s' if foreign > 1 else ''} Bastion did not place")
    if locked:
        problems.append(f"locked {', '.join(locked)}")
    if tight:
        problems.append(f"state {', '.join(tight)}")
    if critical:
        problems.append(f"{len(critical)} critical alerts")
    alerts_total = sum(implied.values())
    lines = [
        f"day: {day.isoformat()} ({profile.alerts.timezone})",
        f"positions: {positions}",
        f"P&L: {pnl}"
        + (f" (equity {close_equity} from {day_start})" if day_start and close_equity else ""),
        f"fills: {fills} ({lots} lots, commissions {commissions})"
        + (f"; {foreign} not placed by Bastion" if foreign else ""),
        f"breaks: {breaks}",
        f"locked instruments: {', '.join(locked) or 'none'}",
        f"trading state: {', '.join(tight) or 'all ACTIVE'}",
        f"alerts that day: {alerts_total}"
        + (
            " (" + ", ".join(f"{n} {k}" for k, n in sorted(implied.items())) + ")"
            if implied
            else ""
        ),
    ]
    if counts is not None:
        lines.append(
            f"deliveries: {counts.delivered} delivered, {counts.pending} being retried,"
            f" {counts.failed} failed, {counts.suppressed} held back by the rate limit"
        )
    lines += [f"critical: {c}" for c in critical[:5]]
    now = store.clock.now()
    if problems:
        summary = f"daily summary {day}: NOT all clear: {'; '.join(problems)}"
        severity = Severity.WARNING
    else:
        summary = (
            f"daily all-clear {day}: positions {positions}; P&L {pnl}; breaks none;"
            f" {alerts_total} alerts"
        )
        severity = Severity.INFO
    return make_alert(
        AlertKind.DAILY_ALL_CLEAR,
        summary,
        profile=profile.name,
        time=now,
        key=f"all-clear@{day.isoformat()}@{now:%Y%m%dT%H%M%S%f}",
        correlation_id=f"all-clear@{day.isoformat()}",
        severity=severity,
        detail="\n".join(lines),
    )
