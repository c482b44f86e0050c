"""The daily shadow run (R8.2): data -> targets from the current pool -> a signal plan.

No broker is involved. The steps, each recorded:

1. the **target date**: the latest completed trading day of every instrument (calendar
   today is never assumed complete); ``--date`` may ask for an earlier one, never a
   day that has not closed yet;
2. **data**: the sample is generated if the profile asks for it and nothing is stored
   (there is no live feed to update from here); the main contract's minute bars up to
   the target day are checked (R2.5) and the verdicts recorded, so the gate can refuse
   unusable data;
3. the **pool** of the target date's period (a stale one is used, and marked so);
4. per instrument, each parameter set's position on the **back-adjusted** (Panama)
   daily series of the instrument's multiple prices (``bastion.marketdata.adjust``), so
   no roll gap leaks into a signal, merged with the pool's weights as written (never
   re-ranked), times the pool's full size: the target in lots, for the contract the
   roll state holds on the data date (its unadjusted close is the reference price);
   the previous plan's target gives the action. An instrument with one contract and no
   multiple prices uses that contract's closes; with several and none, it is refused;
5. the **signal plan** (JSON) with the pool's risk level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from bastion.domain.ids import ContractId
from bastion.errors import ConfigError, UserError
from bastion.gates.profiles import ResolvedProfile
from bastion.marketdata.adjust import panama
from bastion.marketdata.bars import BarStore
from bastion.marketdata.calendars import SessionCalendar, calendar_for
from bastion.marketdata.checks import CheckReport, check_bars, record_reports
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import MarketSpec, SpecRegistry
from bastion.strategy.plan import (
    Contribution,
    PlanSignal,
    PoolInfo,
    SignalPlan,
    classify,
    latest_plan,
    load_plan,
    save_plan,
)
from bastion.strategy.pool import choose_pool, pool_signal

__all__ = ["ShadowResult", "adjusted_closes", "plans_dir", "run_shadow", "target_date"]


@dataclass(slots=True)
class ShadowResult:
    plan: SignalPlan
    plan_path: Path
    sample_generated: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def plans_dir(resolved: ResolvedProfile) -> Path:
    return Path(resolved.profile.records_dir) / "plans"


def target_date(
    calendars: dict[str, SessionCalendar], now: dt.datetime, asked: dt.date | None
) -> dt.date:
    """The latest completed trading day of every instrument, or ``asked`` if it is complete."""
    latest = min(cal.latest_completed_trading_day(now) for cal in calendars.values())
    if asked is None:
        return latest
    if asked > latest:
        raise UserError(
            f"--date {asked} is not a completed trading day yet: the latest completed one is"
            f" {latest} (today is never assumed complete)"
        )
    return asked


def _data_day(cal: SessionCalendar, day: dt.date) -> dt.date:
    return day if cal.is_trading_day(day) else cal.previous_trading_day(day)


Closes = tuple[list[float], ContractId | None, int | None, dt.date | None]


def adjusted_closes(series: SeriesStore, spec: MarketSpec, last_day: dt.date) -> Closes:
    """The back-adjusted daily closes in ticks (oldest first) to ``last_day``, the
    contract held on the last of those days and its own (unadjusted) close in ticks, and
    that day. Empty when the series has no usable row by then."""
    iid = spec.instrument_id
    frame = (
        panama(series.read(iid, "multiple"))
        .series.with_columns(pl.col("ts").dt.date().alias("day"))
        .filter((pl.col("day") <= last_day) & pl.col("adj").is_not_null())
    )
    if frame.height == 0:
        return [], None, None, None
    tick = spec.tick_size
    closes = [float(Decimal(repr(v)) / tick) for v in frame["adj"].to_list()]
    last = frame.row(frame.height - 1, named=True)
    return (
        closes,
        ContractId(f"{iid}/{last['price_contract']}"),
        int(Decimal(repr(last["price"])) / tick),
        last["day"],
    )


def _daily_closes(
    store: BarStore, series: SeriesStore, spec: MarketSpec, last_day: dt.date
) -> tuple[Closes, str | None]:
    """The signal's daily closes: back-adjusted from multiple prices; else the one
    contract's own closes; several contracts and no multiple prices: refused (a
    spliced series would carry the roll gaps into the signal)."""
    iid = spec.instrument_id
    if series.has(iid, "multiple"):
        return adjusted_closes(series, spec, last_day), None
    daily = [cid for cid, size in store.contracts(iid) if size == "1d"]
    if len(daily) > 1:
        return ([], None, None, None), (
            f"{iid}: {len(daily)} contracts of daily bars and no multiple prices to"
            " back-adjust them; import multiple prices (bastion data import-pysystemtrade)"
        )
    if not daily:
        return ([], None, None, None), None
    frame = (
        store.read(ContractId(daily[0]), "1d")
        .with_columns(pl.col("ts").dt.date().alias("day"))
        .filter(pl.col("day") <= last_day)
    )
    if frame.height == 0:
        return ([], None, None, None), None
    last = frame.row(frame.height - 1, named=True)
    return (
        [float(v) for v in frame["close_ticks"].to_list()],
        ContractId(daily[0]),
        int(last["close_ticks"]),
        last["day"],
    ), None


def _check_data(
    store: BarStore, contract: ContractId, cal: SessionCalendar, day: dt.date
) -> tuple[list[str], CheckReport]:
    as_of = cal.close(day) + dt.timedelta(minutes=1)
    bars = store.read(contract, "1m", None, as_of)
    report = check_bars(contract, "1m", bars, cal, as_of)
    problems = [
        f"{contract}: {i.check}: {i.detail}" for i in report.issues if i.severity == "error"
    ]
    return problems, report


def run_shadow(
    resolved: ResolvedProfile,
    *,
    now: dt.datetime,
    asked: dt.date | None = None,
    risk_level: str | None = None,
) -> ShadowResult:
    profile = resolved.profile
    if profile.pool is None:
        raise ConfigError(
            f"profile {profile.name} has no pool; set pool: to a pool file or folder (R3.3)"
        )
    registry = SpecRegistry.bundled()
    specs = {iid: registry[iid] for iid in profile.instruments}
    calendars = {iid: calendar_for(spec) for iid, spec in specs.items()}
    target = target_date(calendars, now, asked)
    store = BarStore(Path(profile.data.dir))
    series = SeriesStore(Path(profile.data.dir))
    generated: list[str] = []
    if not store.contracts() and profile.data.sample:
        from bastion.marketdata.sample import write_sample

        generated = write_sample(Path(profile.data.dir))
    choice = choose_pool(Path(profile.pool), profile.strategy_line, target)
    pool = choice.pool
    missing_lots = [iid for iid in profile.instruments if iid not in pool.lots]
    if missing_lots:
        raise ConfigError(f"pool {choice.path}: lots has no entry for {', '.join(missing_lots)}")
    previous_path = latest_plan(plans_dir(resolved), before=str(target))
    previous = load_plan(previous_path) if previous_path is not None else None
    before = {s.instrument: s.target for s in previous.signals} if previous else {}
    problems: list[str] = []
    reports: list[CheckReport] = []
    signals: list[PlanSignal] = []
    for iid, spec in specs.items():
        cal = calendars[iid]
        day = _data_day(cal, target)
        (closes, contract, ref_ticks, last_day), refused = _daily_closes(store, series, spec, day)
        if refused is not None:
            problems.append(refused)
            continue
        if contract is None or ref_ticks is None or last_day is None:
            problems.append(f"{iid}: no daily bars up to {day}")
            continue
        if last_day < day:
            problems.append(f"{iid}: last daily bar is {last_day}, the data date is {day}")
        found, report = _check_data(store, contract, cal, day)
        problems += found
        reports.append(report)
        merged, notes = pool_signal(pool, closes)
        lots = round(merged.lots(pool.lots[iid]))
        prior = before.get(iid, 0)
        signals.append(
            PlanSignal(
                instrument=iid,
                contract=str(contract),
                previous=prior,
                target=lots,
                action=classify(prior, lots),
                forecast=merged.forecast,
                reference_price=str(Decimal(ref_ticks) * spec.tick_size),
                reference_ticks=ref_ticks,
                data_date=str(last_day),
                contributions=tuple(
                    Contribution(
                        name=c.name,
                        position=c.position,
                        weight=c.weight,
                        contribution=c.contribution,
                    )
                    for c in merged.contributions
                ),
                notes=tuple(notes),
            )
        )
    record_reports(Path(profile.data.dir), reports, now)
    level = risk_level if risk_level is not None else pool.risk_level
    source = "operator (--risk-level)" if risk_level is not None else f"pool {choice.path.name}"
    plan = SignalPlan(
        profile=profile.name,
        role=resolved.role.value,
        strategy_line=profile.strategy_line,
        capital=str(profile.capital),
        target_date=str(target),
        generated_at=now.isoformat(),
        risk_level=level if level is not None else "missing",
        risk_level_source=source,
        pool=PoolInfo(
            period=pool.period,
            cadence=pool.cadence,
            start=str(pool.start),
            end=str(pool.end),
            source=pool.source,
            file=str(choice.path),
            sha256=choice.sha256,
            stale=choice.stale,
            why=choice.why,
        ),
        data_complete=not problems,
        data_problems=tuple(problems),
        signals=tuple(signals),
    )
    path = save_plan(plan, plans_dir(resolved))
    verdicts = [f"{r.contract} 1m: {'usable' if r.usable else 'UNUSABLE'}" for r in reports]
    return ShadowResult(plan, path, generated, verdicts)
