"""Invariants of the clock-skew levels (the kernel's engine on a simulated clock, its
``clock.skew`` notes through the alert mapping):

- every halt for skew alerts (critical), even when ``alerts.clock_skew_seconds`` is above
  the venue's halt limit (then there is no warning band: only halts alert);
- a skew from ``alerts.clock_skew_seconds`` up to the halt limit warns once and trading
  goes on; it is held until the skew falls below half the mark (no alert per wobble);
- the way back (below the mark, or within the limit after a halt) says so, at info.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bastion.config import Profile, parse_profile
from bastion.domain.records import Note
from bastion.engine.engine import EngineState
from bastion.engine.kernel import config_from_profile
from bastion.ops.alerts.mapping import alerts_for_record
from bastion.ops.alerts.model import AlertKind, Severity
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from tests.integration.engine.test_duties import SP500, SP_H, SP_SPEC, _kernel, _notes, _passes


def _alerts(note: Note, mark: float) -> list[tuple[AlertKind, Severity]]:
    return [
        (a.kind, a.severity)
        for a in alerts_for_record(note, profile="t", seq=1, clock_skew_seconds=mark)
    ]


def test_a_halt_alerts_even_when_the_alert_mark_is_above_the_halt_limit(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path)  # halt limit 5 s, no warning band
    _passes(engine, clock, 2, targets=[])
    sim.faults.clock_skew(7.0)
    _passes(engine, clock, 2, targets=[])
    assert engine.state() is EngineState.CLOCK_SKEW
    sim.faults.clock_skew(0.1)
    _passes(engine, clock, 2, targets=[])
    halt, back = _notes(engine.store, "clock.skew")
    # An alert mark of 10 s (above the 5 s limit) must not leave the halt unalerted.
    assert _alerts(halt, 10.0) == [(AlertKind.CLOCK_SKEW, Severity.CRITICAL)]
    assert _alerts(back, 10.0) == [(AlertKind.CLOCK_SKEW_CLEARED, Severity.INFO)]
    engine.close()


def test_a_skew_in_the_warning_band_warns_once_and_trading_goes_on(tmp_path: Path) -> None:
    engine, sim, clock = _kernel(tmp_path)
    engine.warn_skew = dt.timedelta(seconds=2)
    wanted = targets_for("s", {"SP500": 1}, clock.now())
    _passes(engine, clock, 2, targets=[])
    for skew in (3.0, 2.2, 1.5, 3.5):  # wobbles above half the mark: one warning
        sim.faults.clock_skew(skew)
        _passes(engine, clock, 2, targets=wanted)
    assert engine.state() is EngineState.TRADING
    assert engine.oms.book.positions.contract_position(SP_H) == 1, "the warning halted trading"
    sim.faults.clock_skew(0.5)  # below half the mark: the warning clears
    _passes(engine, clock, 2, targets=wanted)
    sim.faults.clock_skew(-6.0)  # past the limit: halted
    _passes(engine, clock, 2, targets=wanted)
    sim.faults.clock_skew(-3.0)  # back within the limit, still past the mark
    _passes(engine, clock, 2, targets=wanted)
    notes = _notes(engine.store, "clock.skew")
    assert [(n.data["before"], n.data["level"]) for n in notes] == [
        ("ok", "warn"),
        ("warn", "ok"),
        ("ok", "halt"),
        ("halt", "warn"),
    ]
    assert "+3.000 s" in notes[0].text
    assert "trading goes on" in notes[0].text
    assert "new orders resume" in notes[3].text
    assert [_alerts(n, 2.0) for n in notes] == [
        [(AlertKind.CLOCK_SKEW, Severity.WARNING)],
        [(AlertKind.CLOCK_SKEW_CLEARED, Severity.INFO)],
        [(AlertKind.CLOCK_SKEW, Severity.CRITICAL)],
        [(AlertKind.CLOCK_SKEW_CLEARED, Severity.INFO)],
    ]
    engine.close()


def _profile(tmp_path: Path, mark: float) -> Profile:
    return parse_profile(
        {
            "name": "skew",
            "environment": "sim",
            "strategy_line": "ema_trend",
            "capital": 1_000_000,
            "account": "SIM-000001",
            "instruments": ["SP500"],
            "store": {"path": str(tmp_path / "sim" / "journal.db")},
            "venue": {"kind": "sim", "max_clock_skew_seconds": 5},
            "alerts": {"clock_skew_seconds": mark},
        },
        "test",
    )


def test_the_warning_band_is_the_alert_mark_below_the_halt_limit_only(tmp_path: Path) -> None:
    schedule = FixedSchedule(contracts={SP500: SP_H})
    below = config_from_profile(_profile(tmp_path, 2), {SP500: SP_SPEC}, schedule)
    above = config_from_profile(_profile(tmp_path, 8), {SP500: SP_SPEC}, schedule)
    assert below.warn_clock_skew == dt.timedelta(seconds=2)
    assert above.warn_clock_skew is None
