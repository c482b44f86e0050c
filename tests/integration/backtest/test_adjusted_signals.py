"""Invariant (R2.4, R3, issue 15): signals run on the back-adjusted (Panama) series the
market-data package builds, never on spliced contracts. On the bundled rolls (SP500
+66 ticks on 2024-03-08, rb -51 ticks on 2024-03-27), every forecast of the engine's
strategies and of ``bastion shadow`` equals an offline computation on that series to
1e-9, so no forecast moves at a roll more than the adjusted series itself does; orders
go to the contract the roll state names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bastion.backtest.session import finish_session, prepare_session
from bastion.domain.ids import ContractId
from bastion.domain.targets import Target
from bastion.gates.profiles import ProfileRole, ResolvedProfile
from bastion.gates.shadow import run_shadow
from bastion.marketdata.adjust import panama
from bastion.marketdata.bars import BarStore
from bastion.marketdata.series import SeriesStore
from bastion.marketdata.specs import SpecRegistry
from bastion.strategy.pool import load_pool
from tests.conftest import REPO
from tests.integration.sim_profiles import sim_profile

REG = SpecRegistry.bundled()


def _ema(values: list[float], n: int) -> list[float | None]:
    """EMA(n): alpha 2/(n+1), seeded with the mean of the first n values (by hand)."""
    out: list[float | None] = []
    value: float | None = None
    for i, x in enumerate(values):
        if i + 1 < n:
            out.append(None)
            continue
        value = sum(values[:n]) / n if value is None else value + 2.0 / (n + 1) * (x - value)
        out.append(value)
    return out


def _shifts(data: Path, iid: str) -> dict[str, float]:
    """Each held contract's offset onto the adjusted series: adj - price, per contract."""
    series = panama(SeriesStore(data).read(iid, "multiple")).series
    rows = series.filter(pl.col("adj").is_not_null()).select("price_contract", "adj", "price")
    return {c: a - p for c, a, p in rows.iter_rows()}


def _priced(data: Path, iid: str) -> Callable[[dt.datetime], str]:
    """The contract priced at a moment: the roll calendar's new one from its roll time."""
    rolls = SeriesStore(data).read(iid, "roll_calendar")
    first = str(rolls["current"][0])
    switches = list(rolls.select("ts", "next").iter_rows())

    def at(when: dt.datetime) -> str:
        current = first
        for ts, nxt in switches:
            if when >= ts:
                current = str(nxt)
        return current

    return at


def test_engine_forecasts_equal_offline_on_adjusted_series(
    tmp_path: Path, bundled_sample: Path
) -> None:
    profile = sim_profile(tmp_path, bundled_sample)  # ema_trend: EMA(60) - EMA(240)
    prepared = prepare_session(profile, kind="backtest", end=dt.date(2024, 4, 5))
    seen: dict[str, list[tuple[dt.datetime, str, float | None]]] = {}
    for strategy in prepared.runner.strategies:
        inner: Callable[..., Target | None] = strategy.on_bar
        log = seen.setdefault(str(strategy.instrument_id), [])

        def record(
            close: int,
            cid: ContractId,
            when: dt.datetime,
            _s: Any = strategy,
            _i: Any = inner,
            _log: Any = log,
        ) -> Target | None:
            target = _i(close, cid, when)
            _log.append((when, str(cid), _s.forecast))
            return target

        strategy.on_bar = record  # type: ignore[method-assign]
    for item in prepared.bars:
        prepared.runner.on_bar(item)
    result = finish_session(prepared)

    store = BarStore(bundled_sample)
    for iid, log in seen.items():
        tick = float(REG[iid].tick_size)
        shifts = _shifts(bundled_sample, iid)
        bars = pl.concat(
            store.read(ContractId(f"{iid}/{c}"), "1m").with_columns(pl.lit(c).alias("c"))
            for c in shifts
        ).sort("ts")
        minute = dt.timedelta(minutes=1)
        priced = _priced(bundled_sample, iid)
        offline_in: list[float] = []
        for ts, close, contract in bars.select("ts", "close_ticks", "c").iter_rows():
            if ts + minute <= log[-1][0] and priced(ts + minute) == contract:
                offline_in.append(close + shifts[contract] / tick)
        fast, slow = _ema(offline_in, 60), _ema(offline_in, 240)
        offline = [None if s is None else f - s for f, s in zip(fast, slow, strict=True)]  # type: ignore[operator]
        assert len(log) == len(offline)
        assert log[0][1] != log[-1][1]  # it rolled
        for (when, _, ours), theirs in zip(log, offline, strict=True):
            if theirs is None:
                assert ours is None
            else:
                assert ours == pytest.approx(theirs, abs=1e-9), (iid, when)
        # At the roll the forecast moves no more than the adjusted series makes it move,
        # while the unadjusted splice would have moved it by the gap's share.
        roll = next(i for i in range(1, len(log)) if log[i][1] != log[i - 1][1])
        step = abs(log[roll][2] - log[roll - 1][2])  # type: ignore[operator]
        assert step == pytest.approx(abs(offline[roll] - offline[roll - 1]), abs=1e-9)  # type: ignore[operator]
        raw = [
            v - shifts[c.split("/")[1]] / tick for v, (_, c, _) in zip(offline_in, log, strict=True)
        ]
        spliced = [
            None if s is None else f - s for f, s in zip(_ema(raw, 60), _ema(raw, 240), strict=True)
        ]  # type: ignore[operator]
        spliced_step = abs(spliced[roll] - spliced[roll - 1])  # type: ignore[operator]
        assert spliced_step > 3 * step
    # Orders went to the contract the roll state names: all holdings in the new ones.
    assert set(result.positions) <= {"SP500/202406", "rb/202410"}


@pytest.fixture
def shadow_folder(tmp_path: Path, bundled_sample: Path) -> ResolvedProfile:
    profile = sim_profile(tmp_path, bundled_sample)
    return ResolvedProfile(
        profile, Path("sim.yaml"), ProfileRole.OFFICIAL, named=True, official=profile
    )


@pytest.mark.parametrize(
    "day", ["2024-03-26", "2024-03-27", "2024-03-28", "2024-04-01", "2024-04-15"]
)
def test_shadow_forecast_equals_offline_adjusted(
    shadow_folder: ResolvedProfile, bundled_sample: Path, day: str
) -> None:
    target = dt.date.fromisoformat(day)
    now = dt.datetime.combine(target + dt.timedelta(days=2), dt.time(12), dt.UTC)
    plan = run_shadow(shadow_folder, now=now, asked=target).plan
    pool = load_pool(REPO / "examples" / "pools" / f"ema_trend-{day[:7]}.yaml")
    for signal in plan.signals:
        iid = signal.instrument
        tick = REG[iid].tick_size
        series = panama(SeriesStore(bundled_sample).read(iid, "multiple")).series.filter(
            pl.col("ts").dt.date() <= dt.date.fromisoformat(signal.data_date)
        )
        closes = [float(Decimal(repr(a)) / tick) for a in series["adj"].to_list()]
        position = 0.0
        for ps in pool.parameter_sets:
            if ps.model == "constant":
                position += ps.weight * (ps.position or 0.0)
                continue
            fast, slow = _ema(closes, ps.fast or 0)[-1], _ema(closes, ps.slow or 0)[-1]
            if fast is not None and slow is not None:
                position += ps.weight * (1.0 if fast > slow else -1.0)
        assert signal.forecast == pytest.approx(max(-1.0, min(1.0, position)), abs=1e-9)
        held = str(series["price_contract"][-1])
        assert signal.contract == f"{iid}/{held}"  # the roll state's contract
        assert signal.reference_ticks == int(Decimal(repr(series["price"][-1])) / tick)


def test_shadow_rb_2024_04_01_adjusted_not_spliced(shadow_folder: ResolvedProfile) -> None:
    now = dt.datetime(2024, 4, 3, 12, tzinfo=dt.UTC)
    plan = run_shadow(shadow_folder, now=now, asked=dt.date(2024, 4, 1)).plan
    rb = next(s for s in plan.signals if s.instrument == "rb")
    assert rb.forecast == pytest.approx(-0.05, abs=1e-9)  # spliced: -0.65 (-3 lots)
    assert rb.target == 0
    assert rb.contract == "rb/202410"
