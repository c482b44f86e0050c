"""The operator's daily report (R8.8): may tonight's orders go, and if not, why not?

It answers, in this order: the headline (YES / NO and why); the signal plan it read
(path, kind, target date); the latest completed data date; the pool's period and
source (with STALE INPUT when it is); the risk level and what it allows; the target
signals; the broker's account state; the gate's status; whether any order API was
called today; whether the next session has orders to act
on; the output files; the next step. Every fact comes from files the day's commands
wrote (the plan, the probe's snapshot, the gate's result, the run records), so the
report can be made at any time, by anyone, without a broker connection.

It lists the positions held within the expiry guard's window (the roll should have
moved them; ``bastion.reports.expiry``), and shows the account's money as Bastion's
journal has it: equity, realised and
unrealised P&L, commissions and slippage per currency (and in the base currency where
rates allow; ``bastion.reports.pnl_report``), with a dated chart of net P&L.

The headline and the next step come from one decision (``_verdict``), so they never
contradict each other: a NO never ends with "orders may go", and a gate whose orders a
session has since acted on, or that judged another plan than the one read here, is a
NO whose next step is to probe and run the gate again.

Written as Markdown and HTML (``<records_dir>/reports/daily-<date>.*``, the HTML on the
shared report template); the CLI also prints it in the terminal.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.gates.approval import same_path
from bastion.gates.broker import BrokerState, broker_state_path, load_broker_state
from bastion.gates.profiles import ResolvedProfile
from bastion.gates.state import load_state, state_path
from bastion.ops.records import write_text_redacted
from bastion.reports.html import Callout, Chart, PageData, Paragraph, Section, write_page
from bastion.reports.ledger import PnlSummary
from bastion.reports.money import NO_REFERENCE, money_text
from bastion.reports.tables import TableData, facts_table, grid
from bastion.secrets import Redactor
from bastion.strategy.plan import SignalPlan, load_plan, newest_plan, plan_digest

__all__ = [
    "LEVEL_MEANING",
    "DailyFacts",
    "daily_facts",
    "daily_tables",
    "render_html",
    "render_markdown",
    "write_daily_report",
]

LEVEL_MEANING = {
    "base": "normal: the plan may open, close and reduce positions",
    "review": "review: only closing, reducing and reconciling orders; nothing new opens",
}
UNKNOWN_LEVEL = "missing or unknown: fail closed, no new positions may open"


@dataclass(slots=True)
class DailyFacts:
    profile: str
    role: str
    headline: str
    may_go: bool
    rows: list[tuple[str, str]]
    signals: list[dict[str, Any]] = field(default_factory=list)
    output_files: list[str] = field(default_factory=list)
    next_step: str = ""
    plan: str | None = None
    """The signal plan the report read (its path)."""
    pnl: PnlSummary | None = None
    money: list[tuple[str, str]] = field(default_factory=list)
    """Capital, Bastion's equity and the broker's last equity."""
    pnl_chart: Chart | None = None
    expiring: TableData | None = None
    """Positions within the expiry guard's window (``bastion.reports.expiry``)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "daily",
            "profile": self.profile,
            "role": self.role,
            "may_go": self.may_go,
            "headline": self.headline,
            "plan": self.plan,
            "facts": dict(self.rows),
            "signals": self.signals,
            "money": dict(self.money),
            "output_files": self.output_files,
            "next_step": self.next_step,
        }


def _api_calls_today(records_dir: Path, today: dt.date) -> tuple[int, int, list[str]]:
    folder = records_dir / today.isoformat()
    send = cancel = 0
    callers: list[str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        counts = data.get("api_counts") or {}
        s, c = int(counts.get("send_order_calls", 0)), int(counts.get("cancel_order_calls", 0))
        send, cancel = send + s, cancel + c
        if s or c:
            callers.append(f"{data.get('kind')} ({s} send, {c} cancel)")
    return send, cancel, callers


def _last_session(records_dir: Path, today: dt.date) -> str | None:
    """When today's latest session run began (ISO), from its run record; None if none ran."""
    folder = records_dir / today.isoformat()
    latest: str | None = None
    for path in sorted(folder.glob("session-*.json")) if folder.is_dir() else []:
        try:
            started = str(json.loads(path.read_text(encoding="utf-8")).get("started_at", ""))
        except (OSError, ValueError):
            continue
        if started and (latest is None or started > latest):
            latest = started
    return latest


def _plan_rows(plan: SignalPlan | None, path: Path | None) -> list[tuple[str, str]]:
    if plan is None or path is None:
        return [
            ("signal plan", "none yet: run 'bastion shadow'"),
            ("latest completed data date", "no plan yet: run 'bastion shadow'"),
        ]
    dates = ", ".join(plan.data_dates) or "-"
    if plan.data_complete is None:
        data = f"{plan.target_date} (no data read: a {plan.kind} plan, targets 0)"
    else:
        complete = (
            "complete" if plan.data_complete else "INCOMPLETE: " + "; ".join(plan.data_problems[:2])
        )
        data = f"{plan.target_date} (data {dates}, {complete})"
    pool = plan.pool
    stale = f" -- STALE INPUT: {pool.why}" if pool.stale else ""
    meaning = LEVEL_MEANING.get(plan.risk_level, UNKNOWN_LEVEL)
    return [
        (
            "signal plan",
            f"{path} ({plan.kind}, target date {plan.target_date}, made {plan.generated_at})",
        ),
        ("latest completed data date", data),
        (
            "pool period / source",
            f"{pool.period} ({pool.start} to {pool.end}); {pool.source}; {pool.file}{stale}",
        ),
        ("risk level", f"{plan.risk_level} ({plan.risk_level_source}): {meaning}"),
    ]


def _broker_row(
    broker: BrokerState | None, now: dt.datetime, max_age: dt.timedelta
) -> tuple[str, str]:
    if broker is None:
        return ("broker account state", "MISSING: no probe snapshot; run 'bastion probe'")
    summary = broker.summary(now, max_age)
    held = summary["positions"]
    held_text = (
        (", ".join(f"{c} {q:+d}" for c, q in held.items()) or "none")
        if isinstance(held, dict)
        else "unknown"
    )
    age = summary["snapshot_age_seconds"]
    currency = (broker.account or {}).get("currency", "")
    equity, margin = (
        money_text(summary[k], currency) if currency else str(summary[k])
        for k in ("equity", "margin_used")
    )
    text = (
        f"{summary['position_state']}; positions {held_text}; equity {equity};"
        f" margin used {margin};"
        f" snapshot {age} s old (limit {max_age.total_seconds():.0f} s)"
    )
    return ("broker account state", text)


@dataclass(frozen=True, slots=True)
class _GateView:
    line: str
    passed: bool
    orders: list[str]
    next_step: str
    """What to do when it did not pass ("" when it did)."""

    @classmethod
    def no(cls, line: str, next_step: str) -> _GateView:
        """A gate view that does not let orders go, and what to do about it."""
        return cls(line=line, passed=False, orders=[], next_step=next_step)


RE_GATE = "re-run 'bastion probe' and 'bastion gate dry-run'"


def _gate_view(
    gate: dict[str, Any] | None, plan: SignalPlan | None, plan_path: Path | None
) -> _GateView:
    """The gate's line, whether it passed for exactly this plan, its orders, and what to
    do when it did not."""
    if gate is None:
        return _GateView.no(
            "not run: run 'bastion gate dry-run'",
            "run 'bastion probe', then 'bastion gate dry-run'",
        )
    line = f"{gate.get('result')} (at {gate.get('at')}; plan {gate.get('plan') or 'none'})"
    judged = gate.get("plan")
    for_plan = (
        plan_path is not None
        and judged is not None
        and same_path(Path(judged), plan_path)
        and gate.get("plan_sha256") == plan_digest(plan_path)
    )
    if plan is not None and not for_plan:
        return _GateView.no(
            line + f" -- it judged another plan than {plan_path}: re-run the gate",
            f"run 'bastion gate dry-run' on {plan_path}",
        )
    if gate.get("status") != "executable":
        return _GateView.no(
            line,
            str(gate.get("next_step") or "")
            or "do not trade: fix the first failed check (docs/operator-day.md), then re-run",
        )
    return _GateView(line=line, passed=True, orders=list(gate.get("orders") or []), next_step="")


def _verdict(
    resolved: ResolvedProfile, plan: SignalPlan | None, gate: _GateView
) -> tuple[bool, str, str]:
    """May the orders go, the headline and the next step: one decision, so they agree."""
    if resolved.is_comparison:
        return (
            False,
            "COMPARISON profile: this report is for comparison only; no orders go from it",
            "compare with the official profile's report; nothing to execute",
        )
    if plan is None:
        return (
            False,
            "NO: there is no signal plan yet",
            "run 'bastion shadow', then 'bastion probe' and 'bastion gate dry-run'",
        )
    if not gate.passed:
        return False, f"NO: {gate.line}", gate.next_step
    what = f" ({len(gate.orders)} order(s))" if gate.orders else " (nothing to trade)"
    return (
        True,
        "YES: tonight's orders may go" + what,
        "start the session before the market opens; watch it: bastion session --watch",
    )


def daily_facts(resolved: ResolvedProfile, now: dt.datetime) -> DailyFacts:
    profile = resolved.profile
    plan_path = newest_plan(Path(profile.records_dir) / "plans")
    plan: SignalPlan | None = load_plan(plan_path) if plan_path else None
    max_age = dt.timedelta(seconds=profile.snapshot_max_age_seconds)
    broker = load_broker_state(broker_state_path(profile))
    gate = load_state(resolved, "gate-latest.json")
    rows = _plan_rows(plan, plan_path)
    rows.append(_broker_row(broker, now, max_age))
    view = _gate_view(gate, plan, plan_path)
    session_at = _last_session(Path(profile.records_dir), now.date())
    if view.passed and gate is not None and session_at and session_at > str(gate.get("at", "")):
        # The gate's orders were acted on since: its "executable" no longer says what is
        # left to do. Fail closed until the broker is probed and the gate run again.
        view = _GateView.no(
            view.line + f" -- a session ran after it ({session_at}): {RE_GATE} before any"
            " further orders",
            f"{RE_GATE}: the session acted on this gate's orders",
        )
    rows.append(("gate status", view.line))
    send, cancel, callers = _api_calls_today(Path(profile.records_dir), now.date())
    called = (
        f"YES: {send} send, {cancel} cancel ({'; '.join(callers)})"
        if send or cancel
        else "NO order API call today"
    )
    rows.append(("order API called?", called))
    if view.passed and view.orders:
        actionable = f"YES: {len(view.orders)} order(s): " + "; ".join(view.orders)
    elif view.passed:
        actionable = "no: the broker is already at target"
    else:
        actionable = "NO: the gate has not passed"
    rows.append(("next session has orders to act on?", actionable))
    may_go, headline, next_step = _verdict(resolved, plan, view)
    candidates = (plan_path, broker_state_path(profile), state_path(resolved, "gate-latest.json"))
    files = [str(p) for p in candidates if p is not None and p.exists()]
    from bastion.reports.pnl_report import equity_rows, pnl_chart, profile_pnl

    summary, fills, specs = profile_pnl(resolved, now)
    from bastion.reports.expiry import expiring_positions, expiry_table

    held = (
        broker.positions
        if broker is not None and broker.positions is not None
        else {str(c.contract): c.position for c in summary.contracts if c.position}
    )
    expiring = expiry_table(profile, expiring_positions(profile, held, now))
    return DailyFacts(
        profile=profile.name,
        role=resolved.role.value,
        headline=headline,
        may_go=may_go,
        rows=rows,
        signals=[_signal_row(s.row()) for s in plan.signals] if plan else [],
        output_files=files,
        next_step=next_step,
        plan=str(plan_path) if plan_path else None,
        pnl=summary,
        money=equity_rows(resolved, summary),
        pnl_chart=pnl_chart(fills, specs),
        expiring=expiring,
    )


def _signal_row(row: dict[str, Any]) -> dict[str, Any]:
    """A plan signal for people: a flatten plan's signals have no reference price."""
    reference = str(row.get("reference", ""))
    if reference in {"", "none", "0", "0.0"}:
        row = {**row, "reference": NO_REFERENCE}
    return row


def daily_tables(f: DailyFacts) -> list[TableData]:
    """The report's tables, in the order the terminal, Markdown and HTML show them."""
    from bastion.reports.pnl_tables import pnl_tables

    tables = [facts_table("May tonight's orders go?", f.rows)]
    if f.expiring is not None:
        tables.append(f.expiring)
    if f.signals:
        keys = list(f.signals[0])
        tables.append(
            grid(
                "Target signals",
                keys,
                [[str(s[k]) for k in keys] for s in f.signals],
                numeric=[k in {"previous", "target", "forecast", "reference"} for k in keys],
            )
        )
    else:
        tables.append(grid("Target signals", ("signal",), [], numeric=(False,)))
    tables.append(facts_table("Equity", f.money))
    if f.pnl is not None:
        tables += pnl_tables(f.pnl)
    return tables


def _title(f: DailyFacts, title_date: str) -> str:
    return f"Bastion daily report {title_date}: {f.profile}" + (
        " (COMPARISON)" if f.role == "comparison" else ""
    )


def render_markdown(f: DailyFacts, title_date: str) -> str:
    from bastion.reports.operations import markdown_of

    head = markdown_of(
        _title(f, title_date),
        daily_tables(f),
        headline=Callout(f"May tonight's orders go? {f.headline}"),
    )
    lines = [head.rstrip("\n"), "", "## Output files", ""] + [f"- {p}" for p in f.output_files]
    lines += ["", "## Next step", "", f.next_step, ""]
    return "\n".join(lines)


def daily_page(f: DailyFacts, title_date: str) -> PageData:
    tables = daily_tables(f)
    answers, *rest = tables
    expiring = rest.pop(0) if f.expiring is not None else None
    signals, money, *pnl = rest
    files = tuple(Paragraph(p) for p in f.output_files) or (Paragraph("none"),)
    money_blocks: list[TableData | Chart | Paragraph] = [money, *pnl]
    if f.pnl_chart is not None:
        money_blocks.append(f.pnl_chart)
    return PageData(
        kind="daily",
        title=_title(f, title_date),
        headline=Callout(f"May tonight's orders go? {f.headline}", "good" if f.may_go else "bad"),
        context=(("profile", f.profile), ("role", f.role), ("date", title_date)),
        sections=(
            Section("Today", (answers,) if expiring is None else (answers, expiring)),
            Section("Target signals", (signals,)),
            Section("Equity and P&L", tuple(money_blocks)),
            Section("Output files", files),
            Section("Next step", (Paragraph(f.next_step),)),
        ),
    )


def render_html(f: DailyFacts, title_date: str) -> str:
    from bastion.reports.html import render_page

    return render_page(daily_page(f, title_date), scripts="inline")


def write_daily_report(
    resolved: ResolvedProfile, redactor: Redactor, *, now: dt.datetime
) -> list[Path]:
    facts = daily_facts(resolved, now)
    folder = Path(resolved.profile.records_dir) / "reports"
    day = now.date().isoformat()
    md = write_text_redacted(folder / f"daily-{day}.md", render_markdown(facts, day), redactor)
    page_html = write_page(
        daily_page(facts, day), folder / f"daily-{day}.html", scripts="beside", redactor=redactor
    )
    return [md, page_html]
