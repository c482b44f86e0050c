"""Invariant (one door to the venue): nothing but the engine's send path
(``bastion.engine.send.OrderGateway``) calls a venue's ``submit``, ``cancel`` or
``modify``. Checked twice: statically, over every module of Bastion; and at run time,
with a venue that records who called it, driven through every path that sends (the
order stack, margin reductions, the kill switch, the smoke order, the recovery
procedure), also behind the read-only and dry-run wrappers."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.backtest.build import BACKTEST_RISK, frictionless_venue_config
from bastion.backtest.build import build_engine as build_bar_engine
from bastion.domain.enums import Side
from bastion.domain.ids import ContractId, InstrumentId
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.gates.smoke import run_smoke
from bastion.orders.rolls import FixedSchedule
from bastion.recon.procedure import RecoveryProcedure
from bastion.store import StoreMode
from bastion.strategy.examples import EmaTrend
from bastion.testing.stack import ES, ES_H, ES_SPEC, minute_bars
from bastion.testing.venue_stubs import quote
from bastion.venues.modes import DryRunVenue, ReadOnlyVenue
from bastion.venues.sim import SimVenue

ROOT = Path(bastion.__file__).parent
ORDER_CALLS = {"submit", "cancel", "modify", "global_cancel"}
# Where a venue's order calls may appear: the send path; the venues themselves (adapters
# forwarding to their wire, the read-only/dry-run wrappers, the sim venue's internals);
# the test kit's conformance harness, which tests a venue on its own.
ALLOWED = ("engine/send.py", "venues/", "testing/")
# Receivers whose .cancel()/.submit() are not venue calls: the send path itself, and
# asyncio tasks, futures, timers and thread pools.
NOT_VENUES = {"sender", "gateway", "task", "future", "timer", "executor", "handle", "_task"}


def _receiver(node: ast.Attribute) -> str:
    value = node.value
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Attribute):
        return value.attr
    return ""


def test_one_door_no_module_but_the_send_path_calls_order_methods() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        offenders.extend(
            f"{rel}:{node.lineno} {_receiver(node.func)}.{node.func.attr}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ORDER_CALLS
            and _receiver(node.func) not in NOT_VENUES
        )
    assert offenders == [], "order calls outside the send path:\n" + "\n".join(offenders)


class CallerSpy:
    """A venue proxy that records the module of whoever calls an order method."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.callers: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in ORDER_CALLS:
            return attr

        def recorded(*args: Any, **kwargs: Any) -> Any:
            caller = inspect.stack()[1]
            module = inspect.getmodule(caller.frame)
            self.callers.append((name, module.__name__ if module else caller.filename))
            return attr(*args, **kwargs)

        return recorded


def _assert_only_the_send_path(spy: CallerSpy) -> None:
    assert spy.callers, "nothing reached the venue: the test drove no order path"
    wrong = [c for c in spy.callers if c[1] != "bastion.engine.send"]
    assert wrong == [], wrong


START = dt.datetime(2024, 3, 1, 14, tzinfo=dt.UTC)


def test_one_door_runtime_stack_margin_and_kill_in_a_backtest() -> None:
    runner = build_bar_engine(
        specs={ES: ES_SPEC},
        contracts=[(ES, ES_H)],
        schedule=FixedSchedule(contracts={ES: ES_H}),
        strategies=[EmaTrend("ema", ES, lots=3, fast=3, slow=8)],
        start=START,
        journal=None,
        venue_config=frictionless_venue_config(Decimal(2)),
    )
    spy = CallerSpy(runner.engine.gateway._venue)
    runner.engine.gateway._venue = spy  # type: ignore[assignment]
    bars = minute_bars([(i % 23) - 11 for i in range(200)], start=START)
    runner.run(bars[:120])
    runner.engine.risk.request_kill("one-door test", "test")  # the kill switch's orders
    runner.run(bars[120:])
    assert runner.engine.kill_reports
    runner.engine.stack.reduce_instrument(ES, 1, "margin test")  # a reduction's orders
    _assert_only_the_send_path(spy)


@pytest.mark.parametrize("wrapper", [None, ReadOnlyVenue, DryRunVenue])
def test_one_door_runtime_smoke_and_recovery_procedure(wrapper: Any) -> None:
    from bastion.clock import SimClock

    clock = SimClock(START)
    sim = SimVenue({ES_H: ES_SPEC}, clock)
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=START, contract_id=ES_H))
    spy = CallerSpy(wrapper(sim, clock) if wrapper is not None else sim)
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={ES: ES_SPEC},
        schedule=FixedSchedule(contracts={ES: ES_H}),
        store_path=":memory:",
        durability=StoreMode.LIVE,
        risk_level=("base", "test"),
    )
    engine = build_engine(config, spy, clock)  # type: ignore[arg-type]
    report = run_smoke(engine, ContractId("ES/202403"), Side.BUY, "submit-cancel", 5, 1.0)
    assert report.sent or wrapper is not None, report
    procedure = RecoveryProcedure(
        engine.reconciler,
        engine.venue,
        engine.gateway,
        engine.stack.drain,
        lambda: clock.advance(dt.timedelta(seconds=1)),
    )
    procedure.run({InstrumentId("ES")}, "one-door test", restore=True)
    _assert_only_the_send_path(spy)
