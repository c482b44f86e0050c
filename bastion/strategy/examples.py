"""Example strategies on bars, for the bundled data and the benchmark (R3.5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

from bastion.domain.ids import ContractId, InstrumentId, StrategyId
from bastion.domain.targets import Target
from bastion.strategy.ema import EmaCross
from bastion.strategy.merge import Contribution, ParameterSignal, merge
from bastion.strategy.vol_target import VolTargetSizer

__all__ = ["BarStrategy", "EmaBlend", "EmaTrend", "Hold", "VolTargetedTrend"]


class BarStrategy(Protocol):
    strategy_id: StrategyId
    instrument_id: InstrumentId

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        """A new target when the wanted position changes, else ``None``."""
        ...


def _target(
    strategy: BarStrategy,
    band: tuple[int, int],
    close_ticks: int,
    contract_id: ContractId,
    when: dt.datetime,
) -> Target:
    """A target computed at a bar's close: the close is its reference."""
    return Target(
        strategy_id=strategy.strategy_id,
        instrument_id=strategy.instrument_id,
        low=band[0],
        high=band[1],
        reference_ticks=close_ticks,
        reference_contract=contract_id,
        reference_time=when,
        generated_time=when,
    )


class EmaTrend:
    """Always in the market at +lots / -lots: long when EMA(fast) > EMA(slow)."""

    def __init__(
        self, strategy_id: str, instrument_id: str, *, lots: int = 1, fast: int = 10, slow: int = 30
    ) -> None:
        self.strategy_id = StrategyId(strategy_id)
        self.instrument_id = InstrumentId(instrument_id)
        self.lots = lots
        self._cross = EmaCross(fast, slow)
        self._last: int | None = None

    @property
    def forecast(self) -> float | None:
        """The raw forecast: EMA(fast) - EMA(slow) of the closes seen, in ticks."""
        return self._cross.spread

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        signal = self._cross.update(float(close_ticks))
        if signal is None or signal == self._last:
            return None
        self._last = signal
        lots = signal * self.lots
        return _target(self, (lots, lots), close_ticks, contract_id, when)


class EmaBlend:
    """Several EMA-cross parameter sets merged with weights into one target (R3.2).

    Each set votes +1/-1; ``merge`` weighs the votes into a forecast in [-1, 1]; the
    target is that forecast times ``lots``. ``contributions`` holds each set's share of
    the latest target, for the target store to record.
    """

    def __init__(
        self,
        strategy_id: str,
        instrument_id: str,
        *,
        lots: int,
        sets: Sequence[tuple[int, int, float]] = ((16, 64, 0.5), (32, 128, 0.3), (64, 256, 0.2)),
    ) -> None:
        self.strategy_id = StrategyId(strategy_id)
        self.instrument_id = InstrumentId(instrument_id)
        self.lots = lots
        self._sets = [(f"ema_{f}_{s}", EmaCross(f, s), w) for f, s, w in sets]
        merge([ParameterSignal(name, 0.0, w) for name, _, w in self._sets])  # validates weights
        self._last: int | None = None
        self.contributions: tuple[Contribution, ...] = ()
        self.forecast: float | None = None
        """The latest merged forecast in [-1, 1]."""

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        votes = [(name, cross.update(float(close_ticks)), w) for name, cross, w in self._sets]
        if any(v is None for _, v, _ in votes):
            return None
        merged = merge([ParameterSignal(name, float(v or 0), w) for name, v, w in votes])
        self.forecast = merged.forecast
        lots = round(merged.lots(self.lots))
        if lots == self._last:
            return None
        self._last = lots
        self.contributions = merged.contributions
        return _target(self, (lots, lots), close_ticks, contract_id, when)


class Hold:
    """A constant target of ``lots``: the plumbing check (rolls, restarts, reconciliation)."""

    def __init__(self, strategy_id: str, instrument_id: str, *, lots: int) -> None:
        self.strategy_id = StrategyId(strategy_id)
        self.instrument_id = InstrumentId(instrument_id)
        self.lots = lots
        self._sent = False

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        if self._sent:
            return None
        self._sent = True
        return _target(self, (self.lots, self.lots), close_ticks, contract_id, when)


class VolTargetedTrend:
    """EMA trend forecast (+/-10) sized by volatility, with a pysystemtrade-style buffer.

    Decides once per ``decision_every`` bars (e.g. hourly on minute bars); sizes by the
    volatility of *daily* closes, one per trading day of the instrument's calendar
    (``day_of``), annualised with that calendar's ``periods_per_year`` trading days
    (``bastion.strategy.vol_target``). ``capital`` is in the instrument's currency.
    """

    def __init__(
        self,
        strategy_id: str,
        instrument_id: str,
        *,
        capital: float,
        multiplier: float,
        tick_size: float,
        periods_per_year: int,
        day_of: Callable[[dt.datetime], dt.date],
        decision_every: int = 1,
        fast: int = 16,
        slow: int = 64,
    ) -> None:
        self.strategy_id = StrategyId(strategy_id)
        self.instrument_id = InstrumentId(instrument_id)
        self._cross = EmaCross(fast, slow)
        self.sizer = VolTargetSizer(capital, multiplier, periods_per_year=periods_per_year)
        self._tick = tick_size
        self._every = decision_every
        self._day_of = day_of
        self._day: dt.date | None = None
        self._day_close: float | None = None
        self._n = 0
        self._last: tuple[int, int] | None = None
        self.forecast: float | None = None
        """The latest forecast (+/-10), for records and tests."""

    def on_bar(self, close_ticks: int, contract_id: ContractId, when: dt.datetime) -> Target | None:
        price = close_ticks * self._tick
        day = self._day_of(when)
        if day != self._day:
            if self._day_close is not None:
                self.sizer.update(self._day_close)  # the previous trading day's close
            self._day = day
        self._day_close = price
        self._n += 1
        if self._n % self._every:
            return None
        signal = self._cross.update(price)
        if signal is None:
            return None
        self.forecast = 10.0 * signal
        band = self.sizer.buffered(self.forecast)
        if band is None:
            return None
        low, high = round(band[0]), round(band[1])
        if (low, high) == self._last:
            return None
        self._last = (low, high)
        return _target(self, (low, high), close_ticks, contract_id, when)
