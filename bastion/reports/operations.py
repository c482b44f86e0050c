"""The operational reports (R9.4): status, reconcile, trades (with cost analysis), P&L
and risk, built from the profile's journal and the day's state files, as text for the
terminal and as Markdown and HTML (with SVG charts) files.

The trades report takes every broker order with fills and shows, per order: the fill
price against the reference price (what the strategy saw), the mid and our side of the
touch at generation, the slippage in ticks (worse is positive) against each, and the
delays generated -> submitted -> filled. ``bastion report trades`` also writes the
journal as structured JSON log lines with correlation ids (``orders.log.jsonl``).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.domain.records import (
    BrokerOrderCreated,
    BrokerOrderSubmitted,
    FillRecorded,
    JournalRecord,
)
from bastion.gates.broker import broker_state_path, load_broker_state
from bastion.gates.dryrun import read_store
from bastion.gates.profiles import ResolvedProfile
from bastion.gates.runs import load_state
from bastion.ops.records import write_text_redacted
from bastion.reports.html import line_chart, page
from bastion.secrets import Redactor
from bastion.venues.registry import profile_contracts

__all__ = ["Report", "TradeRow", "build_report", "trade_rows"]

KINDS = ("status", "reconcile", "trades", "pnl", "risk")


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    lines: list[str]
    charts: list[str] = field(default_factory=list)
    extra_files: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.lines])

    def write(self, folder: Path, redactor: Redactor) -> list[Path]:
        day = dt.datetime.now(dt.UTC).date().isoformat()
        md = write_text_redacted(
            folder / f"{self.kind}-{day}.md",
            "\n".join([f"# {self.title}", "", "```", *self.lines, "```", ""]),
            redactor,
        )
        body = f"<pre>{html.escape(chr(10).join(self.lines))}</pre>"
        page_html = write_text_redacted(
            folder / f"{self.kind}-{day}.html", page(self.title, [body, *self.charts]), redactor
        )
        paths = [md, page_html]
        for name, text in self.extra_files.items():
            paths.append(write_text_redacted(folder / name, text, redactor))
        return paths


@dataclass(frozen=True, slots=True)
class TradeRow:
    client_order_id: str
    contract: str
    side: str
    filled: int
    average_ticks: float
    reference_ticks: int | None
    mid_ticks: int | None
    side_ticks: int | None
    generated: dt.datetime | None
    submitted: dt.datetime | None
    filled_at: dt.datetime | None

    def slippage(self, against: int | None) -> float | None:
        """Ticks per lot, worse is positive (a buy above, a sell below ``against``)."""
        if against is None:
            return None
        sign = 1 if self.side == "buy" else -1
        return (self.average_ticks - against) * sign

    @staticmethod
    def _ms(a: dt.datetime | None, b: dt.datetime | None) -> str:
        return "-" if a is None or b is None else f"{(b - a).total_seconds() * 1000:.0f}"

    def line(self) -> str:
        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x + 0.0:+.2f}"

        return (
            f"{self.client_order_id[:28]:<28} {self.contract:<14} {self.side:<4} {self.filled:>4}"
            f" {self.average_ticks:>10.2f} {fmt(self.slippage(self.reference_ticks)):>8}"
            f" {fmt(self.slippage(self.mid_ticks)):>8} {fmt(self.slippage(self.side_ticks)):>8}"
            f" {self._ms(self.generated, self.submitted):>8}"
            f" {self._ms(self.submitted, self.filled_at):>8}"
        )


TRADE_HEADER = (
    f"{'order':<28} {'contract':<14} {'side':<4} {'lots':>4} {'avg ticks':>10} {'vs ref':>8}"
    f" {'vs mid':>8} {'vs side':>8} {'gen->sub':>8} {'sub->fill':>8}   (slippage in ticks per"
    " lot, worse positive; delays in ms)"
)


def trade_rows(records: Iterable[JournalRecord]) -> list[TradeRow]:
    created: dict[str, BrokerOrderCreated] = {}
    submitted: dict[str, dt.datetime] = {}
    fills: dict[str, list[tuple[int, int, dt.datetime]]] = {}
    for record in records:
        if isinstance(record, BrokerOrderCreated):
            created[record.client_order_id] = record
        elif isinstance(record, BrokerOrderSubmitted):
            submitted.setdefault(record.client_order_id, record.timestamp)
        elif isinstance(record, FillRecorded):
            f = record.fill
            fills.setdefault(f.client_order_id, []).append((f.quantity, f.price_ticks, f.timestamp))
    rows = []
    for coid, parts in fills.items():
        order = created.get(coid)
        if order is None:
            continue
        lots = sum(q for q, _, _ in parts)
        rows.append(
            TradeRow(
                client_order_id=str(coid),
                contract=str(order.contract_id),
                side=str(order.side),
                filled=lots,
                average_ticks=sum(q * p for q, p, _ in parts) / lots,
                reference_ticks=order.reference_ticks,
                mid_ticks=order.mid_ticks,
                side_ticks=order.side_ticks,
                generated=order.reference_time or order.timestamp,
                submitted=submitted.get(coid),
                filled_at=max(t for _, _, t in parts),
            )
        )
    return sorted(rows, key=lambda r: r.filled_at or dt.datetime.min.replace(tzinfo=dt.UTC))


def _records(resolved: ResolvedProfile) -> list[JournalRecord]:
    path = Path(resolved.profile.store.path)
    if not path.exists():
        return []
    from bastion.store import SqliteStore

    store = SqliteStore(path)
    try:
        return [entry.record for entry in store.entries()]
    finally:
        store.close()


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
    rows = trade_rows(_records(resolved))
    lines = [TRADE_HEADER, *(r.line() for r in rows)]
    vs_ref = [r.slippage(r.reference_ticks) for r in rows]
    known = [v for v in vs_ref if v is not None]
    lots = sum(r.filled for r in rows)
    lines.append(
        f"{len(rows)} filled order(s), {lots} lot(s); average slippage vs reference"
        f" {sum(known) / len(known):+.2f} ticks per lot"
        if known
        else f"{len(rows)} filled order(s)"
    )
    delays = [
        (r.filled_at - r.generated).total_seconds()
        for r in rows
        if r.filled_at is not None and r.generated is not None
    ]
    charts = [
        line_chart(known, title="Slippage vs reference (ticks per lot, worse positive)"),
        line_chart(delays, title="Delay generated to filled (s)"),
    ]
    log = _journal_log(resolved)
    return Report(
        "trades",
        f"Bastion trades report: {resolved.profile.name}",
        lines,
        charts,
        {"orders.log.jsonl": log} if log else {},
    )


def _pnl(resolved: ResolvedProfile) -> Report:
    specs: dict[ContractId, ContractSpec] = profile_contracts(resolved.profile)
    from bastion.marketdata.specs import SpecRegistry

    registry = SpecRegistry.bundled()
    position: dict[str, int] = {}
    cash: dict[str, int] = {}
    last: dict[str, int] = {}
    curve: list[float] = []
    total = Decimal(0)

    def tick_value(cid: str) -> Decimal:
        spec = specs.get(ContractId(cid))
        if spec is None:
            iid = parse_contract_id(ContractId(cid))[0]
            spec = registry[iid].contract if iid in registry else None
        return spec.tick_size * spec.multiplier if spec is not None else Decimal(1)

    for record in _records(resolved):
        if not isinstance(record, FillRecorded):
            continue
        f = record.fill
        cid = str(f.contract_id)
        signed = f.quantity * f.side.sign
        position[cid] = position.get(cid, 0) + signed
        cash[cid] = cash.get(cid, 0) - signed * f.price_ticks
        last[cid] = f.price_ticks
        total = sum(
            (Decimal(cash[c] + position[c] * last[c]) * tick_value(c) for c in cash), Decimal(0)
        )
        curve.append(float(total))
    lines = [
        f"{'contract':<16} {'position':>8} {'last ticks':>10} {'P&L (marked at last fill)':>26}"
    ]
    for cid in sorted(cash):
        money = Decimal(cash[cid] + position[cid] * last[cid]) * tick_value(cid)
        lines.append(f"{cid:<16} {position[cid]:>+8d} {last[cid]:>10d} {money:>26,.2f}")
    lines.append(f"total P&L (gross, before commissions): {total:,.2f}")
    return Report(
        "pnl",
        f"Bastion P&L report: {resolved.profile.name}",
        lines,
        [line_chart(curve, title="Cumulative P&L by fill")],
    )


def _status(resolved: ResolvedProfile) -> Report:
    broker = load_broker_state(broker_state_path(resolved.profile))
    facts = read_store(resolved, broker)
    gate = load_state(resolved, "gate-latest.json")
    lines = [
        f"account state: {facts.account_state.value} {facts.account_reason}".rstrip(),
        "instrument states: "
        + (", ".join(f"{k} {v.value}" for k, v in facts.instrument_states.items()) or "none"),
        f"kill request pending: {'YES' if facts.kill_pending else 'no'}",
        "locked instruments: "
        + ("; ".join(f"{k} ({', '.join(v.values())})" for k, v in facts.locks.items()) or "none"),
        "Bastion positions: "
        + (", ".join(f"{c} {q:+d}" for c, q in facts.positions.items()) or "flat"),
        "broker positions (last probe): "
        + (
            "missing"
            if broker is None or broker.positions is None
            else (", ".join(f"{c} {q:+d}" for c, q in broker.positions.items()) or "flat")
        ),
        f"last gate: {gate.get('result') if gate else 'not run'}",
    ]
    return Report("status", f"Bastion status: {resolved.profile.name}", lines)


def _reconcile(resolved: ResolvedProfile) -> Report:
    from bastion.recon.reconciler import render_report

    broker = load_broker_state(broker_state_path(resolved.profile))
    facts = read_store(resolved, broker)
    lines = [f"broker snapshot: {broker.positions_at if broker else 'missing (run bastion probe)'}"]
    if facts.recon is not None:
        lines += render_report(facts.recon, facts.locks).splitlines()  # type: ignore[arg-type]
    return Report("reconcile", f"Bastion reconciliation: {resolved.profile.name}", lines)


def _risk(resolved: ResolvedProfile) -> Report:
    from bastion.risk.level import load_risk_level
    from bastion.risk.limits import LimitBook

    lines: list[str] = []
    path = Path(resolved.profile.store.path)
    limits = resolved.profile.risk
    if path.exists():
        from bastion.store import SqliteStore

        store = SqliteStore(path)
        try:
            level, source = load_risk_level(store)
            limits = LimitBook(resolved.profile.risk, store).reload()
        finally:
            store.close()
        lines.append(f"risk level in the store: {level.value} ({source or 'never set'})")
    else:
        lines.append("risk level in the store: unknown (no journal yet): nothing new may open")
    facts = read_store(resolved, None)
    lines.append(f"account state: {facts.account_state.value}")
    lines.append(f"kill request pending: {'YES' if facts.kill_pending else 'no'}")
    lines += [f"limit {k}: {v}" for k, v in limits.model_dump().items() if v not in (None, {})]
    return Report("risk", f"Bastion risk report: {resolved.profile.name}", lines)


def build_report(kind: str, resolved: ResolvedProfile) -> Report:
    builders = {
        "status": _status,
        "reconcile": _reconcile,
        "trades": _trades,
        "pnl": _pnl,
        "risk": _risk,
    }
    return builders[kind](resolved)
