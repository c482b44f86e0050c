"""Strategy lines by name, as a profile names them (``strategy_line``)."""

from __future__ import annotations

from collections.abc import Sequence

from bastion.errors import ConfigError
from bastion.marketdata.specs import MarketSpec
from bastion.strategy.examples import BarStrategy, EmaBlend, EmaTrend, Hold, VolTargetedTrend

__all__ = ["STRATEGY_LINES", "build_strategies"]

STRATEGY_LINES = {
    "ema_trend": "EMA(60) against EMA(240) on minute bars, +/-lots per instrument",
    "vol_target": "EMA trend forecast sized to 20% annual volatility, buffered",
    "ema_blend": "three EMA-cross parameter sets merged with weights 0.5/0.3/0.2 (R3.2)",
    "hold": "a constant long of `lots` per instrument (for roll and plumbing checks)",
}


def build_strategies(
    line: str, specs: Sequence[MarketSpec], capital: float, lots: int
) -> list[BarStrategy]:
    if line not in STRATEGY_LINES:
        raise ConfigError(
            f"strategy_line {line!r} is not known; expected one of {sorted(STRATEGY_LINES)}"
        )
    strategies: list[BarStrategy] = []
    for spec in specs:
        iid = spec.instrument_id
        if line == "ema_blend":
            strategies.append(EmaBlend(line, iid, lots=lots))
        elif line == "hold":
            strategies.append(Hold(line, iid, lots=lots))
        elif line == "ema_trend":
            strategies.append(EmaTrend(f"{line}", iid, lots=lots, fast=60, slow=240))
        else:
            strategies.append(
                VolTargetedTrend(
                    line,
                    iid,
                    capital=capital / len(specs),
                    multiplier=float(spec.contract.multiplier),
                    tick_size=float(spec.contract.tick_size),
                    decision_every=60,
                )
            )
    return strategies
