"""A simulated multi-day session (``bastion session``) or backtest (``bastion backtest``)
from a profile, on the bar store: data -> targets -> orders -> risk -> journal -> sim
venue -> fills -> positions, one trading day after another, with an end-of-day
procedure at each UTC date change that leaves the stack empty.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from bastion.backtest.analytics import Analytics, analyse
from bastion.backtest.build import build_engine
from bastion.backtest.runner import Engine, InstrumentBar
from bastion.clock import Clock, SimClock
from bastion.config import Environment, Profile
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.domain.orders import BrokerOrder
from bastion.errors import UserError
from bastion.marketdata.bars import BarStore
from bastion.marketdata.sample import write_sample
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import MarketSpec, SpecRegistry
from bastion.oms import OrderManager
from bastion.orders.rolls import CalendarSchedule, Roll
from bastion.risk.engine import RiskEngine
from bastion.risk.kill import KillSwitch
from bastion.store import SqliteStore
from bastion.store.targets import TargetStore
from bastion.strategy.registry import build_strategies
from bastion.venues.port import VenuePort
from bastion.venues.sim import Bar, SimVenueConfig

__all__ = ["SessionResult", "load_bars", "run_session"]


@dataclass(slots=True)
class SessionResult:
    kind: str
    days: list[dt.date]
    bars: int
    orders: int
    fills: int
    positions: dict[str, int]
    strategy_positions: dict[str, int]
    gross_pnl: Decimal
    commissions: Decimal
    net_pnl: Decimal
    slippage_ticks: float
    """Average fill price against the reference price, in ticks, worse is positive."""
    slippage_money: Decimal
    equity: list[tuple[dt.date, float]]
    analytics: Analytics
    journal: Path
    problems: list[str] = field(default_factory=list)
    send_order_calls: int = 0
    cancel_order_calls: int = 0
    sample_generated: list[str] = field(default_factory=list)


def _ensure_data(profile: Profile) -> tuple[BarStore, SeriesStore, list[str]]:
    data_dir = profile.data.dir
    bars = BarStore(data_dir)
    generated: list[str] = []
    if not bars.contracts() and profile.data.sample:
        generated = write_sample(data_dir)
    return bars, SeriesStore(data_dir), generated


def load_bars(
    store: BarStore, spec: MarketSpec, start: dt.datetime | None, end: dt.datetime | None
) -> list[InstrumentBar]:
    iid = spec.instrument_id
    contracts = [cid for cid, size in store.contracts(iid) if size == "1m"]
    if not contracts:
        raise UserError(
            f"no minute bars for {iid} in {store.root}; import some with"
            " 'bastion data import' or set data.sample: true"
        )
    out: list[InstrumentBar] = []
    minute = dt.timedelta(minutes=1)
    for cid in contracts:
        frame = store.read(ContractId(cid), "1m", start, end)
        cols = [
            frame[c].to_list()
            for c in ("ts", "open_ticks", "high_ticks", "low_ticks", "close_ticks", "volume")
        ]
        for ts, o, h, lo, c, v in zip(*cols, strict=True):
            out.append(
                InstrumentBar(
                    iid,
                    Bar(
                        contract_id=ContractId(cid),
                        open_ticks=o,
                        high_ticks=h,
                        low_ticks=lo,
                        close_ticks=c,
                        volume=v,
                        start=ts,
                        end=ts + minute,
                    ),
                )
            )
    return out


def _rolls(series: SeriesStore, iid: InstrumentId) -> list[Roll]:
    if not series.has(iid, "roll_calendar"):
        return []
    frame: pl.DataFrame = series.read(iid, "roll_calendar")
    return [
        Roll(ts, ContractId(f"{iid}/{cur}"), ContractId(f"{iid}/{nxt}"))
        for ts, cur, nxt in frame.select("ts", "current", "next").iter_rows()
    ]


def _rotate(journal: Path) -> Path | None:
    """A sim session starts from an empty journal; an old one is kept beside it."""
    if not journal.exists():
        return None
    stamp = dt.datetime.fromtimestamp(journal.stat().st_mtime, dt.UTC).strftime("%Y%m%dT%H%M%S")
    kept = journal.with_name(f"{journal.stem}-{stamp}{journal.suffix}")
    journal.rename(kept)
    for suffix in ("-wal", "-shm"):
        side = journal.with_name(journal.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    return kept


def _slippage(
    orders: list[BrokerOrder], specs: dict[InstrumentId, ContractSpec]
) -> tuple[float, Decimal]:
    lots = 0
    ticks_total = 0
    money = Decimal(0)
    for order in orders:
        if order.filled == 0 or order.costs.reference_ticks is None:
            continue
        avg_x_lots = order.filled_value_ticks
        worse = (avg_x_lots - order.costs.reference_ticks * order.filled) * order.side.sign
        ticks_total += worse
        lots += order.filled
        iid = InstrumentId(order.contract_id.split("/")[0])
        money += specs[iid].tick_value * worse
    return (ticks_total / lots if lots else 0.0), money


def run_session(  # noqa: PLR0915 - one linear recipe: data, parts, loop, summary
    profile: Profile,
    *,
    kind: str = "session",
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SessionResult:
    if profile.environment is not Environment.SIM:
        raise UserError(
            f"profile {profile.name} is a {profile.environment} profile; a simulated"
            f" {kind} needs environment: sim"
        )
    bar_store, series, generated = _ensure_data(profile)
    registry = SpecRegistry.bundled()
    market_specs = [registry[i] for i in profile.instruments]
    specs = {m.instrument_id: m.contract for m in market_specs}
    begin = dt.datetime.combine(
        start or profile.start or dt.date.min.replace(year=1970), dt.time(), dt.UTC
    )
    finish = (
        dt.datetime.combine(end or profile.end, dt.time(), dt.UTC) + dt.timedelta(days=1)
        if (end or profile.end)
        else None
    )
    bars: list[InstrumentBar] = []
    for spec in market_specs:
        bars.extend(load_bars(bar_store, spec, begin, finish))
    if not bars:
        raise UserError(f"no bars between {start} and {end} for {', '.join(profile.instruments)}")
    bars.sort(key=lambda b: (b.bar.end, b.instrument_id))
    # The bars live for the whole run: keep the cyclic collector from rescanning them.
    gc.collect()
    gc.freeze()
    schedule = CalendarSchedule({iid: _rolls(series, iid) for iid in specs})
    contracts = sorted({(b.instrument_id, b.bar.contract_id) for b in bars})
    journal = profile.store.path
    journal.parent.mkdir(parents=True, exist_ok=True)
    _rotate(journal)
    strategies = build_strategies(
        profile.strategy_line,
        market_specs,
        float(profile.capital),
        profile.risk.max_order_lots // 2 or 1,
    )
    risk_engines: list[RiskEngine] = []

    def make_risk(
        oms: OrderManager, market: MarketView, clock: Clock, venue: VenuePort
    ) -> RiskEngine:
        store = oms.ledger
        assert isinstance(store, SqliteStore)  # noqa: S101 - build_engine made it from journal
        risk = RiskEngine(
            profile.risk,
            specs,
            ledger=oms,
            store=store,
            clock=clock,
            market=market,
            venue_limits={venue.name: venue.rate_limits},
        )
        # A sim session's signal plan is the built-in strategy's own: normal risk level.
        risk.set_risk_level("base", f"sim {kind}: built-in strategy {profile.strategy_line}")
        risk_engines.append(risk)
        return risk

    engine, ledger = build_engine(
        specs=specs,
        contracts=contracts,
        schedule=schedule,
        strategies=strategies,
        start=bars[0].bar.start,
        journal=journal,
        venue_config=SimVenueConfig(
            seed=profile.venue.seed, initial_cash=profile.capital, currency=profile.currency
        ),
        risk_factory=make_risk,
    )
    risk = risk_engines[0]
    _account(engine, risk)
    engine.schedule = schedule
    assert isinstance(ledger, SqliteStore)  # noqa: S101 - a journal path was given
    engine.target_store = TargetStore(ledger, instruments=list(specs))
    engine.stack.position_limits = dict.fromkeys(specs, profile.risk.max_position_lots)
    capital = float(profile.capital)
    days: list[dt.date] = []
    equity: list[tuple[dt.date, float]] = []
    total = len(bars)
    for n, item in enumerate(bars):
        day = item.bar.end.date()
        if days and day != days[-1]:
            _end_of_day(engine, risk, days[-1], equity, capital)
        if not days or day != days[-1]:
            days.append(day)
        engine.on_bar(item)
        if progress is not None and n % 5000 == 0:
            progress(n, total)
    _end_of_day(engine, risk, days[-1], equity, capital)
    if progress is not None:
        progress(total, total)
    close = getattr(ledger, "close", None)
    if close is not None:
        close()
    book = engine.stack.oms.book
    broker = [o for o in book.history.values() if isinstance(o, BrokerOrder)]
    slip_ticks, slip_money = _slippage(broker, specs)
    pnl = engine.pnl
    return SessionResult(
        kind=kind,
        days=days,
        bars=engine.bars,
        orders=len(broker) + len(book.broker_orders),
        fills=pnl.fills,
        positions={c: q for (_, c), q in sorted(book.positions.contract.items())},
        strategy_positions={f"{s}/{i}": q for (s, i), q in sorted(book.positions.strategy.items())},
        gross_pnl=pnl.gross(),
        commissions=pnl.commissions,
        net_pnl=pnl.net(),
        slippage_ticks=slip_ticks,
        slippage_money=slip_money,
        equity=equity,
        analytics=analyse([e for _, e in equity], pnl.traded_lots),
        journal=journal,
        problems=list(dict.fromkeys(engine.stack.problems)),
        send_order_calls=engine.venue.counters.send_order_calls,
        cancel_order_calls=engine.venue.counters.cancel_order_calls,
        sample_generated=generated,
    )


def _account(engine: Engine, risk: RiskEngine) -> None:
    """Give the risk engine the venue's account: loss limits and margin use (R6.5, R6.6)."""
    snapshot = engine.venue.account()
    if snapshot.value is None:
        engine.stack.problems.append(f"account snapshot unknown: {snapshot.reason}")
        return
    check = risk.on_account(snapshot.value.equity, snapshot.value.margin_used)
    for breach in check.breaches:
        engine.stack.problems.append(f"risk: {breach.message}")
    for reduction in check.reductions:
        instrument = InstrumentId(reduction.contract_id.split("/")[0])
        engine.stack.reduce_instrument(instrument, reduction.quantity, reduction.reason)
    if check.reductions:
        engine.stack.step()


def _end_of_day(
    engine: Engine,
    risk: RiskEngine,
    day: dt.date,
    equity: list[tuple[dt.date, float]],
    capital: float,
) -> None:
    engine.stack.end_of_day()
    _account(engine, risk)
    request = risk.pending_kill()
    if request is not None:
        clock = engine.clock
        assert isinstance(clock, SimClock)  # noqa: S101 - sessions run on the sim clock
        report = KillSwitch(
            risk,
            engine.stack.oms,
            engine.venue,
            wait=lambda seconds: clock.advance(dt.timedelta(seconds=seconds)),
        ).run(str(request.get("reason", "kill requested")))
        state = "flat confirmed" if report.flat_confirmed else f"NOT FLAT: {report.residual}"
        engine.stack.problems.append(f"kill switch ran ({report.reason}): {state}")
    equity.append((day, engine.equity(capital)))
