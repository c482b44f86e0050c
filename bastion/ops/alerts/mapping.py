"""From journal records to alerts: the journal is the single source of what alerts.

Every fact worth a person's attention is already a journal ``Note`` (the risk engine's
``risk.*`` notes, the reconciler's ``reconcile`` note, the OMS's ``anomaly`` note, ...).
``alerts_for_record`` maps one record to the alerts it implies, with no state, so the
same journal always gives the same alerts (and the same alert keys: a replay never
alerts twice). ``MAPPING`` lists every rule; docs/alert-kinds.md is generated from it.

Some facts had no journal note; this module defines their notes (``gate_note``, which
the gate and the after-close routine journal; ``clock_skew_note``, ``reconnect_note``),
and the watchdog journals its own (``watchdog_note``). ``equity_note`` (the engine's
``account.equity``) lives with the loss limits in ``bastion.risk.loss``.

The one rule that needs time is the disconnect: a ``disconnect`` note alerts only when
the venue stays down longer than ``alerts.disconnect_seconds``, so ``AlertFeed`` keeps
that state and alerts on ``tick(now)``; its reconnect alerts only after an alert for
the disconnect went out.

Nothing here raises on a record: a note it cannot read becomes an ``anomaly`` alert
naming the note, so the engine loop that feeds it cannot be stopped by it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from bastion.domain.contracts import parse_contract_id
from bastion.domain.ids import ContractId
from bastion.domain.records import JournalRecord, Note
from bastion.ops.alerts.model import Alert, AlertKind, Severity, make_alert
from bastion.risk.loss import equity_note
from bastion.risk.states import SEVERITY, TradingState

__all__ = [
    "MAPPING",
    "AlertFeed",
    "AlertSink",
    "MappingRow",
    "alerts_for_record",
    "clock_skew_note",
    "equity_note",
    "gate_note",
    "reconnect_note",
    "watchdog_note",
]

log = logging.getLogger(__name__)

# -- notes this module defines -------------------------------------------------------------

GATE = "gate"
CLOCK_SKEW = "clock.skew"
RECONNECT = "reconnect"
HEARTBEAT_STOPPED = "watchdog.heartbeat_stopped"
HEARTBEAT_RESUMED = "watchdog.heartbeat_resumed"
WATCHDOG_CANCEL = "watchdog.cancel"
WATCHDOG_CANCEL_RESULT = "watchdog.cancel.result"


def _data(**data: object) -> dict[str, str]:
    return {k: str(v) for k, v in data.items() if v is not None}


def gate_note(when: dt.datetime, gate: str, *, passed: bool, result: str, reason: str) -> Note:
    """A gate's or an after-close routine's answer (``passed`` False: it said NO)."""
    verdict = "YES" if passed else "NO"
    return Note(
        timestamp=when,
        kind=GATE,
        text=f"{gate}: {verdict} ({result}): {reason}",
        data=_data(gate=gate, passed=str(passed).lower(), result=result, reason=reason),
    )


def clock_skew_note(when: dt.datetime, skew_seconds: float, source: str) -> Note:
    """The local clock differs from ``source``'s (a venue's SendingTime, NTP) by ``skew``."""
    return Note(
        timestamp=when,
        kind=CLOCK_SKEW,
        text=f"local clock is {skew_seconds:+.3f} s from {source}",
        data=_data(skew_seconds=f"{skew_seconds:.6f}", source=source),
    )


def reconnect_note(when: dt.datetime, venue: str, epoch: int) -> Note:
    """The venue is connected again (connection ``epoch``)."""
    return Note(
        timestamp=when,
        kind=RECONNECT,
        text=f"{venue} connected again (epoch {epoch})",
        data=_data(venue=venue, epoch=epoch),
    )


def watchdog_note(when: dt.datetime, kind: str, text: str, **data: object) -> Note:
    """A note the watchdog journals (``watchdog.*`` kinds)."""
    if not kind.startswith("watchdog."):
        raise ValueError(f"watchdog notes have watchdog.* kinds, not {kind!r}")
    return Note(timestamp=when, kind=kind, text=text, data=_data(**data))


# -- the mapping -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One rule, for the generated reference: which note, when, what it alerts as."""

    note_kind: str
    when: str
    alert: AlertKind | None
    severity: Severity | None
    instrument: str = "-"


@dataclass(frozen=True, slots=True)
class _Ctx:
    profile: str
    seq: int | None
    correlation_id: str
    clock_skew_seconds: float

    def key(self, note: Note, kind: AlertKind, instrument: str | None) -> str:
        origin = (
            f"j{self.seq}"
            if self.seq is not None
            else f"{note.kind}@{note.timestamp:%Y%m%dT%H%M%S%f}"
        )
        return f"{origin}:{kind}:{instrument or ''}"

    def alert(
        self,
        note: Note,
        kind: AlertKind,
        summary: str,
        *,
        instrument: str | None = None,
        severity: Severity | None = None,
        detail: str = "",
    ) -> Alert:
        key = self.key(note, kind, instrument)
        correlation = self.correlation_id or (
            f"journal-{self.seq}" if self.seq is not None else key
        )
        return make_alert(
            kind,
            summary,
            profile=self.profile,
            time=note.timestamp,
            key=key,
            correlation_id=correlation,
            severity=severity,
            instrument=instrument,
            detail=detail,
            journal_seq=self.seq,
        )


def _instrument_of(contract: str | None) -> str | None:
    if not contract:
        return None
    try:
        instrument, _ = parse_contract_id(ContractId(contract))
    except ValueError:
        return contract
    return str(instrument)


def _kill(note: Note, ctx: _Ctx) -> list[Alert]:
    if note.text.startswith("kill request closed"):
        return []
    return [ctx.alert(note, AlertKind.KILL_REQUESTED, note.text)]


def _kill_result(note: Note, ctx: _Ctx) -> list[Alert]:
    return [ctx.alert(note, AlertKind.KILL_FLAT_CONFIRMED, note.text)]


def _kill_alert(note: Note, ctx: _Ctx) -> list[Alert]:
    if "flat" in note.data:  # the kill switch's outcome, not one of its steps
        held = note.data.get("residual", "")
        detail = f"venue still shows: {held}" if held else ""
        return [ctx.alert(note, AlertKind.KILL_NOT_FLAT, note.text, detail=detail)]
    return [ctx.alert(note, AlertKind.KILL_STEP_FAILED, note.text)]


def _state(note: Note, ctx: _Ctx) -> list[Alert]:
    before, after = note.data.get("before", ""), note.data.get("after", "")
    try:
        was, now = SEVERITY[TradingState(before)], SEVERITY[TradingState(after)]
    except ValueError:
        return [ctx.alert(note, AlertKind.ANOMALY, f"unreadable trading state note: {note.text}")]
    scope = note.data.get("scope", "")
    instrument = scope.partition(":")[2] if scope.startswith("instrument:") else None
    if now > was:
        severity = Severity.CRITICAL if after == TradingState.HALTED else Severity.WARNING
        return [
            ctx.alert(
                note,
                AlertKind.TRADING_STATE_TIGHTENED,
                note.text,
                instrument=instrument,
                severity=severity,
            )
        ]
    if now < was:
        return [ctx.alert(note, AlertKind.TRADING_STATE_RESUMED, note.text, instrument=instrument)]
    return []


def _loss(note: Note, ctx: _Ctx) -> list[Alert]:
    breached = [part for part in note.text.split("; ") if "breached" in part]
    if not breached:
        return []  # a new day's or week's starting equity
    return [ctx.alert(note, AlertKind.LOSS_LIMIT_BREACHED, "; ".join(breached))]


def _margin(note: Note, ctx: _Ctx) -> list[Alert]:
    return [ctx.alert(note, AlertKind.MARGIN_THRESHOLD, note.text)]


def _guard(note: Note, ctx: _Ctx) -> list[Alert]:
    instrument = _instrument_of(note.data.get("contract_id"))
    kind = (
        AlertKind.MARKET_PAUSED
        if note.text.startswith("new orders paused")
        else AlertKind.MARKET_RESUMED
    )
    return [ctx.alert(note, kind, note.text, instrument=instrument)]


def _reconcile(note: Note, ctx: _Ctx) -> list[Alert]:
    breaks = [line for line in note.data.get("breaks", "").splitlines() if line.strip()]
    changes = [c.strip() for c in note.data.get("locks", "").split(",") if c.strip()]
    out: list[Alert] = []
    for change in changes:
        instrument = change[1:]
        if change.startswith("+"):
            mine = [b for b in breaks if b.split()[1:2] == [instrument]]
            out.append(
                ctx.alert(
                    note,
                    AlertKind.INSTRUMENT_LOCKED,
                    f"{instrument} locked by a reconciliation break:"
                    f" {' '.join(mine[0].split()) if mine else note.text}",
                    instrument=instrument,
                    detail="\n".join(mine),
                )
            )
        else:
            out.append(
                ctx.alert(
                    note,
                    AlertKind.INSTRUMENT_UNLOCKED,
                    f"{instrument} unlocked: its reconciliation break cleared",
                    instrument=instrument,
                )
            )
    if not changes:
        if breaks:
            out.append(
                ctx.alert(
                    note,
                    AlertKind.RECONCILIATION_BREAK,
                    f"reconciliation: {note.text}: {' '.join(breaks[0].split())}",
                    detail="\n".join(breaks),
                )
            )
        elif note.text == "clean" and note.data.get("first") != "true":
            # Clean again after breaks; a first run that finds nothing alerts nobody.
            out.append(ctx.alert(note, AlertKind.RECONCILIATION_CLEAN, "reconciliation clean"))
    return out


def _system_alert(note: Note, ctx: _Ctx) -> list[Alert]:
    instrument = note.data.get("instrument_id") or None
    if instrument and "locked" in note.text:
        return [ctx.alert(note, AlertKind.INSTRUMENT_LOCKED, note.text, instrument=instrument)]
    return [ctx.alert(note, AlertKind.ANOMALY, note.text, instrument=instrument)]


def _lock(note: Note, ctx: _Ctx) -> list[Alert]:
    instrument = note.data.get("instrument_id") or None
    if note.data.get("locked") == "true":
        return [ctx.alert(note, AlertKind.INSTRUMENT_LOCKED, note.text, instrument=instrument)]
    source, by = note.data.get("source", "?"), note.data.get("by", "")
    summary = f"{instrument} unlocked: its {source} lock cleared" + (f" ({by})" if by else "")
    detail = f"the lock was: {note.data['why']}" if note.data.get("why") else ""
    return [
        ctx.alert(
            note, AlertKind.INSTRUMENT_UNLOCKED, summary, instrument=instrument, detail=detail
        )
    ]


def _anomaly(note: Note, ctx: _Ctx) -> list[Alert]:
    instrument = _instrument_of(note.data.get("contract_id"))
    detail = ", ".join(f"{k}={v}" for k, v in sorted(note.data.items()))
    return [ctx.alert(note, AlertKind.ANOMALY, note.text, instrument=instrument, detail=detail)]


def _gate(note: Note, ctx: _Ctx) -> list[Alert]:
    if note.data.get("passed") == "true":
        return []
    gate = note.data.get("gate", "gate")
    reason = note.data.get("reason", note.text)
    return [ctx.alert(note, AlertKind.GATE_NO, f"{gate} says NO: {reason}")]


def _skew(note: Note, ctx: _Ctx) -> list[Alert]:
    """The engine's notes carry the level they enter (``halt``: new orders halted,
    critical, whatever ``alerts.clock_skew_seconds`` says; ``warn``: past the warning
    mark, trading goes on; ``ok``) and the level before; a note without a level (an
    outside check's ``clock_skew_note``) alerts from ``alerts.clock_skew_seconds``."""
    level = note.data.get("level")
    if level == "halt":
        return [ctx.alert(note, AlertKind.CLOCK_SKEW, note.text, severity=Severity.CRITICAL)]
    if level == "warn" and note.data.get("before") == "ok":
        return [ctx.alert(note, AlertKind.CLOCK_SKEW, note.text)]
    if level in {"warn", "ok"}:
        return [ctx.alert(note, AlertKind.CLOCK_SKEW_CLEARED, note.text)]
    try:
        skew = abs(float(note.data.get("skew_seconds", "nan")))
    except ValueError:
        skew = float("nan")
    if skew < ctx.clock_skew_seconds:
        return []
    return [ctx.alert(note, AlertKind.CLOCK_SKEW, note.text)]  # NaN (unreadable) alerts too


def _heartbeat_stopped(note: Note, ctx: _Ctx) -> list[Alert]:
    return [ctx.alert(note, AlertKind.HEARTBEAT_STOPPED, note.text, detail=_pairs(note))]


def _heartbeat_resumed(note: Note, ctx: _Ctx) -> list[Alert]:
    return [ctx.alert(note, AlertKind.HEARTBEAT_RESUMED, note.text)]


def _cancel_result(note: Note, ctx: _Ctx) -> list[Alert]:
    confirmed = note.data.get("confirmed") == "true"
    severity = Severity.WARNING if confirmed else Severity.CRITICAL
    return [
        ctx.alert(
            note, AlertKind.WATCHDOG_CANCEL, note.text, severity=severity, detail=_pairs(note)
        )
    ]


def _pairs(note: Note) -> str:
    return "\n".join(f"{k}: {v}" for k, v in sorted(note.data.items()))


def _nothing(_note: Note, _ctx: _Ctx) -> list[Alert]:
    return []


Handler = Callable[[Note, _Ctx], list[Alert]]

_HANDLERS: Final[dict[str, Handler]] = {
    "risk.kill": _kill,
    "risk.kill.result": _kill_result,
    "risk.kill.alert": _kill_alert,
    "risk.state": _state,
    "risk.loss": _loss,
    "risk.margin": _margin,
    "risk.guard": _guard,
    "reconcile": _reconcile,
    "alert": _system_alert,
    "lock": _lock,
    "anomaly": _anomaly,
    "foreign_order": _anomaly,
    "late_fill": _anomaly,
    "foreign_fill": _anomaly,
    GATE: _gate,
    CLOCK_SKEW: _skew,
    HEARTBEAT_STOPPED: _heartbeat_stopped,
    HEARTBEAT_RESUMED: _heartbeat_resumed,
    WATCHDOG_CANCEL_RESULT: _cancel_result,
    # The feed handles these two (they need time); alone they alert nothing.
    "disconnect": _nothing,
    RECONNECT: _nothing,
}

_W, _C, _I = Severity.WARNING, Severity.CRITICAL, Severity.INFO
_K = AlertKind
MAPPING: Final[tuple[MappingRow, ...]] = (
    MappingRow("risk.kill", "text 'kill switch requested ...'", _K.KILL_REQUESTED, _C),
    MappingRow("risk.kill", "text 'kill request closed ...'", None, None),
    MappingRow("risk.kill.step", "a step that went as planned", None, None),
    MappingRow("risk.kill.result", "flat confirmed", _K.KILL_FLAT_CONFIRMED, _W),
    MappingRow("risk.kill.alert", "data has 'flat' (the outcome)", _K.KILL_NOT_FLAT, _C),
    MappingRow("risk.kill.alert", "a step that failed", _K.KILL_STEP_FAILED, _W),
    MappingRow(
        "risk.state",
        "after is tighter than before (HALTED: critical)",
        _K.TRADING_STATE_TIGHTENED,
        _W,
        "instrument scope",
    ),
    MappingRow(
        "risk.state",
        "after is looser than before",
        _K.TRADING_STATE_RESUMED,
        _I,
        "instrument scope",
    ),
    MappingRow("risk.state", "state unchanged", None, None),
    MappingRow("risk.loss", "a limit breached", _K.LOSS_LIMIT_BREACHED, _C),
    MappingRow("risk.loss", "a day or week starts", None, None),
    MappingRow("risk.margin", "above the high mark", _K.MARGIN_THRESHOLD, _W),
    MappingRow("risk.guard", "new orders paused", _K.MARKET_PAUSED, _I, "contract_id"),
    MappingRow("risk.guard", "the pause cleared", _K.MARKET_RESUMED, _I, "contract_id"),
    MappingRow("reconcile", "a lock added (+X)", _K.INSTRUMENT_LOCKED, _W, "X"),
    MappingRow("reconcile", "a lock cleared (-X)", _K.INSTRUMENT_UNLOCKED, _I, "X"),
    MappingRow("reconcile", "breaks, no lock change", _K.RECONCILIATION_BREAK, _W),
    MappingRow("reconcile", "clean again, no lock change", _K.RECONCILIATION_CLEAN, _I),
    MappingRow("reconcile", "a process's first run, clean", None, None),
    MappingRow(
        "alert", "breaker tripped: instrument locked", _K.INSTRUMENT_LOCKED, _W, "instrument_id"
    ),
    MappingRow("alert", "any other system alert", _K.ANOMALY, _W),
    MappingRow(
        "lock",
        "an operator's procedure cleared a lock (bastion recover)",
        _K.INSTRUMENT_UNLOCKED,
        _I,
        "instrument_id",
    ),
    MappingRow("lock", "locked is true", _K.INSTRUMENT_LOCKED, _W, "instrument_id"),
    MappingRow("anomaly", "a venue fact that does not fit", _K.ANOMALY, _W, "contract_id"),
    MappingRow("foreign_order", "an order Bastion did not place", _K.ANOMALY, _W, "contract_id"),
    MappingRow("foreign_fill", "a fill Bastion did not expect", _K.ANOMALY, _W),
    MappingRow("late_fill", "a fill after its order ended", _K.ANOMALY, _W, "contract_id"),
    MappingRow("disconnect", "still down after alerts.disconnect_seconds", _K.DISCONNECTED, _W),
    MappingRow("reconnect / recovery", "after a disconnect that alerted", _K.RECONNECTED, _I),
    MappingRow("gate", "passed is false (a gate or after-close routine said NO)", _K.GATE_NO, _W),
    MappingRow(
        "clock.skew",
        "level halt: new orders halted (whatever alerts.clock_skew_seconds says)",
        _K.CLOCK_SKEW,
        _C,
    ),
    MappingRow(
        "clock.skew",
        "level warn from ok: at least alerts.clock_skew_seconds, below the halt limit",
        _K.CLOCK_SKEW,
        _W,
    ),
    MappingRow(
        "clock.skew",
        "level ok, or warn after a halt: back within the limit or the mark",
        _K.CLOCK_SKEW_CLEARED,
        _I,
    ),
    MappingRow(
        "clock.skew",
        "no level (an outside check): skew at least alerts.clock_skew_seconds",
        _K.CLOCK_SKEW,
        _W,
    ),
    MappingRow(
        HEARTBEAT_STOPPED,
        "the watchdog found the engine silent, dead, or not started in trading hours",
        _K.HEARTBEAT_STOPPED,
        _C,
    ),
    MappingRow(HEARTBEAT_RESUMED, "a new engine beats again", _K.HEARTBEAT_RESUMED, _I),
    MappingRow(
        WATCHDOG_CANCEL_RESULT,
        "cancels confirmed (not confirmed: critical)",
        _K.WATCHDOG_CANCEL,
        _W,
    ),
    MappingRow(
        "manual_order, balance_trade, recovery, recovery_procedure, risk.denied, risk.limits,"
        " risk.level, risk.kill.step, watchdog.cancel, account.equity",
        "audit trail only",
        None,
        None,
    ),
)


def alerts_for_record(
    record: JournalRecord,
    *,
    profile: str,
    seq: int | None = None,
    correlation_id: str = "",
    clock_skew_seconds: float = 2.0,
) -> list[Alert]:
    """The alerts one journal record implies (none for most). Never raises."""
    if not isinstance(record, Note):
        return []
    handler = _HANDLERS.get(record.kind)
    if handler is None:
        return []
    ctx = _Ctx(profile, seq, correlation_id, clock_skew_seconds)
    try:
        return handler(record, ctx)
    except Exception as exc:  # noqa: BLE001 - an unreadable note must not stop the engine
        log.warning("alert mapping failed on a %s note: %s", record.kind, exc)
        return [
            ctx.alert(record, AlertKind.ANOMALY, f"unreadable {record.kind} note: {record.text}")
        ]


# -- the feed: the kernel's one call site ---------------------------------------------------


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None:
        """Take an alert; never blocks, never raises."""
        ...


class _Entry(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def correlation_id(self) -> str: ...

    @property
    def record(self) -> JournalRecord: ...


class JournalReader(Protocol):
    @property
    def last_seq(self) -> int: ...

    def entries(self, after_seq: int = 0) -> Iterator[_Entry]: ...


@dataclass(slots=True)
class _Down:
    since: dt.datetime
    why: str
    note: Note
    seq: int | None
    alerted: bool = False


class AlertFeed:
    """Journal records in, alerts out to a sink, in journal order.

    The kernel calls ``catch_up(store)`` (reads only entries after the last one seen) and
    ``tick(now)`` once per loop iteration; or ``on_record`` for records it holds itself.
    """

    def __init__(
        self,
        profile: str,
        sink: AlertSink,
        *,
        after_seq: int = 0,
        disconnect_seconds: float = 60.0,
        clock_skew_seconds: float = 2.0,
    ) -> None:
        self.profile = profile
        self.sink = sink
        self.seq = after_seq
        self.disconnect_after = dt.timedelta(seconds=disconnect_seconds)
        self.clock_skew_seconds = clock_skew_seconds
        self._down: _Down | None = None

    def catch_up(self, journal: JournalReader) -> list[Alert]:
        """Map the entries written since the last call. With nothing new it costs one
        integer comparison, so the loop may call it on every iteration."""
        if journal.last_seq <= self.seq:
            return []
        out: list[Alert] = []
        for entry in journal.entries(self.seq):
            out += self.on_record(entry.record, seq=entry.seq, correlation_id=entry.correlation_id)
        return out

    def on_record(
        self, record: JournalRecord, *, seq: int | None = None, correlation_id: str = ""
    ) -> list[Alert]:
        if seq is not None:
            self.seq = max(self.seq, seq)
        out = alerts_for_record(
            record,
            profile=self.profile,
            seq=seq,
            correlation_id=correlation_id,
            clock_skew_seconds=self.clock_skew_seconds,
        )
        if isinstance(record, Note):
            out += self._connection(record, seq, correlation_id)
        for alert in out:
            self.sink.send(alert)
        return out

    def _connection(self, note: Note, seq: int | None, correlation_id: str) -> list[Alert]:
        if note.kind == "disconnect":
            if self._down is None:
                why = note.text.partition("(")[2].partition(")")[0] or note.text
                self._down = _Down(note.timestamp, why, note, seq)
            return self._due(note.timestamp, correlation_id)
        if note.kind in {RECONNECT, "recovery"} and self._down is not None:
            down, self._down = self._down, None
            if not down.alerted:
                return []
            seconds = (note.timestamp - down.since).total_seconds()
            ctx = _Ctx(self.profile, seq, correlation_id, self.clock_skew_seconds)
            return [
                ctx.alert(
                    note,
                    AlertKind.RECONNECTED,
                    f"venue connected again after {seconds:.0f} s down ({down.why})",
                )
            ]
        return []

    def tick(self, now: dt.datetime) -> list[Alert]:
        """Alerts that fall due with time alone (a disconnect that lasts)."""
        out = self._due(now, "")
        for alert in out:
            self.sink.send(alert)
        return out

    def _due(self, now: dt.datetime, correlation_id: str) -> list[Alert]:
        down = self._down
        if down is None or down.alerted or now - down.since < self.disconnect_after:
            return []
        down.alerted = True
        seconds = (now - down.since).total_seconds()
        ctx = _Ctx(self.profile, down.seq, correlation_id, self.clock_skew_seconds)
        return [
            ctx.alert(
                down.note,
                AlertKind.DISCONNECTED,
                f"venue disconnected for {seconds:.0f} s ({down.why}); new orders halted until"
                " it reconnects and reconciles",
            )
        ]
