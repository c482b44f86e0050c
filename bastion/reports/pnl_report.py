"""``bastion report pnl`` and the P&L every operator summary shows: equity, realised and
unrealised P&L, commissions and slippage per currency and in the base currency.

``journal_pnl`` (and ``profile_pnl`` around it, for a profile) is the one function the
pnl report, the daily report and the session and watch summaries call: it reads a
journal, marks open positions at the latest close in the bar store (or at the last
fill, and says so), and returns a ``PnlSummary``; ``bastion.reports.pnl_tables`` draws
it the same way everywhere. Rates to the base currency are the profile's (``fx``: fixed
in a sim profile, else the dated rates file, each rate usable while fresh) unless the
caller gives others; a currency without one makes a mixed total read "no rate for ...".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import InstrumentId
from bastion.gates.broker import broker_state_path, load_broker_state
from bastion.gates.profiles import ResolvedProfile
from bastion.reports.charts import equity_chart
from bastion.reports.html import Callout, Chart
from bastion.reports.ledger import FillFact, Ledger, PnlSummary, fill_facts
from bastion.reports.marks import latest_marks
from bastion.reports.money import format_money, money_text
from bastion.reports.pnl_tables import pnl_tables
from bastion.reports.report import Report
from bastion.reports.sources import journal_records, profile_specs
from bastion.reports.tables import facts_table

__all__ = [
    "equity_rows",
    "journal_pnl",
    "pnl_chart",
    "pnl_report",
    "pnl_summary_lines",
    "profile_pnl",
]


def journal_pnl(
    journal: Path,
    specs: Mapping[InstrumentId, ContractSpec],
    *,
    base: str,
    capital: Decimal,
    now: dt.datetime,
    data_dir: Path | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> tuple[PnlSummary, list[FillFact]]:
    """The P&L of the journal at ``journal``, open positions marked at the latest close
    before ``now`` in ``data_dir``'s bar store (else at their last fill, said so).

    This is the call for any summary that has a journal (a session's, a watch's)."""
    facts = fill_facts(journal_records(journal))
    ledger = Ledger(specs)
    for fact in facts:
        ledger.apply(fact)
    held = list(ledger.open_positions())
    marks = (
        latest_marks(data_dir, held, now)
        if held and data_dir is not None and data_dir.exists()
        else {}
    )
    return ledger.summary(marks, base=base, capital=capital, rates=rates), facts


def profile_pnl(
    resolved: ResolvedProfile,
    now: dt.datetime,
    *,
    rates: Mapping[str, Decimal] | None = None,
) -> tuple[PnlSummary, list[FillFact], dict[InstrumentId, ContractSpec]]:
    """The profile's P&L now, the fills it was built from, and the specs used. Base
    totals use ``rates``, by default the profile's (``fx``) usable today; a currency
    without one reads "no rate"."""
    profile = resolved.profile
    specs = profile_specs(profile)
    if rates is None:
        from bastion.marketdata.fx import profile_fx

        rates = profile_fx(profile).usable(now.date())
    summary, facts = journal_pnl(
        Path(profile.store.path),
        specs,
        base=profile.currency,
        capital=profile.capital,
        now=now,
        data_dir=Path(profile.data.dir),
        rates=rates,
    )
    return summary, facts, specs


def pnl_chart(
    facts: Sequence[FillFact], specs: Mapping[InstrumentId, ContractSpec]
) -> Chart | None:
    """Net P&L per currency after each fill, positions marked at their last fill."""
    if not facts:
        return None
    ledger = Ledger(specs)
    times: list[dt.datetime] = []
    lines: dict[str, list[float | None]] = {}
    for n, fact in enumerate(sorted(facts, key=lambda f: f.fill.timestamp)):
        ledger.apply(fact)
        times.append(fact.fill.timestamp)
        for currency, value in ledger.net_by_currency({}).items():
            lines.setdefault(currency, [None] * n).append(float(value))
        for values in lines.values():
            if len(values) < n + 1:
                values.append(values[-1] if values else None)
    figure = equity_chart(times, lines, y_title="net P&L (own currency)")
    figure.update_xaxes(title_text="time (UTC)")
    return Chart(
        "Net P&L by currency, after each fill",
        figure,
        note="Open positions marked at their last fill price at each point; commissions"
        " deducted as paid.",
    )


def equity_rows(resolved: ResolvedProfile, summary: PnlSummary) -> list[tuple[str, str]]:
    """Bastion's equity (capital + net P&L) beside the broker's last reported equity."""
    broker = load_broker_state(broker_state_path(resolved.profile))
    account = (broker.account or {}) if broker is not None else {}
    broker_equity = account.get("equity")
    if broker is None:
        broker_text = "no probe yet (run bastion probe)"
    elif broker_equity is None:
        broker_text = f"unknown ({broker.account_reason or 'no account snapshot'})"
    else:
        currency = account.get("currency", "")
        shown = money_text(broker_equity, currency) if currency else str(broker_equity)
        broker_text = f"{shown} (at {broker.account_at})"
    return [
        ("capital", format_money(summary.capital, summary.base)),
        (f"equity in {summary.base} (capital + net P&L)", summary.equity.text()),
        ("broker equity (last probe)", broker_text),
    ]


def pnl_summary_lines(summary: PnlSummary) -> list[tuple[str, str]]:
    """What a session or a watch says of money: per currency realised, unrealised,
    commissions and net; the net and the equity in the base currency (or the missing
    rate)."""
    rows = [
        (
            f"P&L {c.currency}",
            f"realised {format_money(c.realised, c.currency, signed=True)}, unrealised"
            f" {format_money(c.unrealised, c.currency, signed=True)}"
            + (f" ({', '.join(c.unmarked)} unmarked)" if c.unmarked else "")
            + f", commissions {format_money(c.commissions, c.currency)},"
            f" net {format_money(c.net, c.currency, signed=True)}",
        )
        for c in summary.currencies
    ]
    rows.append((f"P&L net in {summary.base}", summary.total("net").text()))
    rows.append((f"equity in {summary.base}", f"{summary.equity.text()} (capital + net P&L)"))
    return rows


def pnl_report(resolved: ResolvedProfile, now: dt.datetime) -> Report:
    summary, facts, specs = profile_pnl(resolved, now)
    chart = pnl_chart(facts, specs)
    headline = Callout(
        "Net P&L: "
        + (
            "; ".join(format_money(c.net, c.currency, signed=True) for c in summary.currencies)
            or "none"
        )
        + f" | equity {summary.equity.text()}",
        "info",
    )
    return Report(
        "pnl",
        f"Bastion P&L report: {resolved.profile.name}",
        [facts_table("Equity", equity_rows(resolved, summary)), *pnl_tables(summary)],
        [chart] if chart is not None else [],
        list(summary.notes),
        headline=headline,
    )
