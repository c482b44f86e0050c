"""The operational reports (R9.4): status, reconcile, trades (with cost analysis), P&L
and risk, built from the profile's journal and the day's state files.

Each report is a list of tables (``bastion.reports.tables.TableData``) plus dated charts
where there is a series to draw; the terminal prints the tables with rich, the Markdown
file carries them as Markdown tables, and the HTML page lays them out with the shared
template (``bastion.reports.html``), its charts using the plotly library written once
beside the pages. Prices are in price units; slippage only where the order carried a
reference price ("no reference" otherwise); money in each contract's currency, with a
base-currency total only where a rate is known.

``bastion report trades`` also writes the journal as structured JSON log lines with
correlation ids (``orders.log.jsonl``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from bastion.domain.records import JournalRecord
from bastion.gates.broker import broker_state_path, load_broker_state
from bastion.gates.dryrun import read_store
from bastion.gates.profiles import ResolvedProfile
from bastion.gates.state import load_state
from bastion.reports.html import Callout
from bastion.reports.ledger import fill_facts
from bastion.reports.recon_tables import breaks_table, locks_table
from bastion.reports.report import Report, markdown_of
from bastion.reports.sources import journal_records, profile_specs
from bastion.reports.tables import TableData, facts_table, grid
from bastion.reports.trades import OrderRow, order_rows

__all__ = ["KINDS", "Report", "TradeRow", "build_report", "markdown_of", "trade_rows"]

KINDS = ("status", "reconcile", "trades", "pnl", "risk")

TradeRow = OrderRow
"""The trades report's row (a filled broker order); the old name, kept for callers."""


def trade_rows(
    records: Iterable[JournalRecord], resolved: ResolvedProfile | None = None
) -> list[OrderRow]:
    """Every filled broker order of ``records`` (priced with the profile's specs)."""
    specs = profile_specs(resolved.profile) if resolved is not None else {}
    return order_rows(fill_facts(records), specs)


def _journal_log(resolved: ResolvedProfile) -> str:
    import io
    import logging

    import structlog

    from bastion.ops.logging import log_journal
    from bastion.ops.records import redactor_for

    path = Path(resolved.profile.store.path)
    if not path.exists():
        return ""
    from bastion.store import SqliteStore

    buffer = io.StringIO()
    redactor = redactor_for(resolved.profile)
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=buffer),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    store = SqliteStore(path)
    try:
        log_journal(store.entries(), logger)
    finally:
        store.close()
    return redactor(buffer.getvalue())


def _trades(resolved: ResolvedProfile) -> Report:
    from bastion.reports.trades_report import trades_report

    records = journal_records(Path(resolved.profile.store.path))
    report = trades_report(records, profile_specs(resolved.profile), resolved.profile.name)
    log = _journal_log(resolved)
    if log:
        report.extra_files["orders.log.jsonl"] = log
    return report


def _pnl(resolved: ResolvedProfile) -> Report:
    from bastion.reports.pnl_report import pnl_report

    return pnl_report(resolved, dt.datetime.now(dt.UTC))


def _positions_table(bastion: dict[str, int], broker: dict[str, int] | None) -> TableData:
    contracts = sorted(set(bastion) | set(broker or {}))
    rows = []
    for cid in contracts:
        ours = bastion.get(cid, 0)
        theirs = None if broker is None else broker.get(cid, 0)
        rows.append(
            (
                cid,
                f"{ours:+d}",
                "unknown" if theirs is None else f"{theirs:+d}",
                "-" if theirs is None else ("yes" if theirs == ours else "NO"),
            )
        )
    return grid(
        "Positions",
        ("contract", "Bastion", "broker (last probe)", "agree"),
        rows,
        numeric=(False, True, True, False),
        note="broker positions: "
        + ("missing (run bastion probe)" if broker is None else "last probe"),
    )


def _status(resolved: ResolvedProfile) -> Report:
    broker = load_broker_state(broker_state_path(resolved.profile))
    facts = read_store(resolved, broker)
    gate = load_state(resolved, "gate-latest.json")
    account = f"{facts.account_state.value} {facts.account_reason}".rstrip()
    states = [(k, v.value) for k, v in sorted(facts.instrument_states.items())]
    locks = [
        (iid, source, why)
        for iid, held in sorted(facts.locks.items())
        for source, why in sorted(held.items())
    ]
    tables = [
        facts_table(
            "State",
            [
                ("account state", account),
                ("kill request pending", "YES" if facts.kill_pending else "no"),
                (
                    "last gate",
                    f"{gate.get('result')} (at {gate.get('at')}; plan {gate.get('plan') or 'none'})"
                    if gate
                    else "not run",
                ),
                ("locked instruments", str(len(facts.locks)) if facts.locks else "none"),
            ],
        ),
        grid("Instrument states", ("instrument", "state"), states, numeric=(False, False)),
        grid("Locks", ("instrument", "source", "why"), locks, numeric=(False, False, False)),
        _positions_table(facts.positions, None if broker is None else broker.positions),
    ]
    return Report("status", f"Bastion status: {resolved.profile.name}", tables)


def _reconcile(resolved: ResolvedProfile) -> Report:
    broker = load_broker_state(broker_state_path(resolved.profile))
    facts = read_store(resolved, broker)
    snapshot = broker.positions_at if broker else "missing (run bastion probe)"
    rows = [("broker snapshot", str(snapshot))]
    tables: list[TableData] = []
    headline = None
    if facts.recon is not None:
        recon = facts.recon
        rows.append(("reconciliation", "CLEAN" if recon.clean else "BREAKS"))
        rows.append(("unknown views", ", ".join(recon.unknown) or "none"))
        headline = Callout(
            "reconciliation: " + ("CLEAN" if recon.clean else "BREAKS"),
            "good" if recon.clean else "bad",
        )
        tables.append(breaks_table(recon.breaks))
    elif facts.recon_note:
        rows.append(("reconciliation", facts.recon_note))
    tables.insert(0, facts_table("Reconciliation", rows))
    tables.append(locks_table(facts.locks))
    clean = facts.recon is not None and facts.recon.clean
    return Report(
        "reconcile",
        f"Bastion reconciliation: {resolved.profile.name}",
        tables,
        headline=headline,
        verdict_no=not clean,
    )


def _risk(resolved: ResolvedProfile) -> Report:
    from bastion.reports.risk_tables import limits_table
    from bastion.risk.level import load_risk_level
    from bastion.risk.limits import LimitBook

    rows: list[tuple[str, str]] = []
    path = Path(resolved.profile.store.path)
    limits = resolved.profile.risk
    overrides: list[str] = []
    if path.exists():
        from bastion.store import SqliteStore

        store = SqliteStore(path)
        try:
            level, source = load_risk_level(store)
            book = LimitBook(resolved.profile.risk, store)
            limits = book.reload()
            overrides = sorted(book.overrides)
        finally:
            store.close()
        rows.append(("risk level in the store", f"{level.value} ({source or 'never set'})"))
    else:
        rows.append(("risk level in the store", "unknown (no journal yet): nothing new may open"))
    facts = read_store(resolved, None)
    rows.append(("account state", facts.account_state.value))
    rows.append(("kill request pending", "YES" if facts.kill_pending else "no"))
    tables = [
        facts_table("Risk state", rows),
        limits_table(
            limits, resolved.profile.currency, profile=resolved.profile.risk, overrides=overrides
        ),
    ]
    return Report("risk", f"Bastion risk report: {resolved.profile.name}", tables)


def build_report(kind: str, resolved: ResolvedProfile) -> Report:
    builders = {
        "status": _status,
        "reconcile": _reconcile,
        "trades": _trades,
        "pnl": _pnl,
        "risk": _risk,
    }
    return builders[kind](resolved)
