"""Weighted merge of parameter sets into one target (R3.2).

Each parameter set gives a position in [-1, 1] (a forecast scaled to full size) and a
weight. The merged forecast is the weighted sum; the target is that forecast times the
strategy's full size in lots. Each set's contribution is returned, so it can be recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bastion.domain.targets import TargetError

__all__ = ["Contribution", "Merged", "ParameterSignal", "merge"]


@dataclass(frozen=True, slots=True)
class ParameterSignal:
    name: str
    position: float
    """In [-1, 1]."""
    weight: float


@dataclass(frozen=True, slots=True)
class Contribution:
    name: str
    position: float
    weight: float
    contribution: float
    """``weight * position``: this set's share of the merged forecast."""


@dataclass(frozen=True, slots=True)
class Merged:
    forecast: float
    """In [-1, 1]."""
    contributions: tuple[Contribution, ...]

    def lots(self, full_size: float) -> float:
        return self.forecast * full_size


def merge(
    signals: Sequence[ParameterSignal], *, weights_sum_to: float = 1.0, tolerance: float = 1e-9
) -> Merged:
    """Combine ``signals``; weights must be non-negative and sum to ``weights_sum_to``."""
    if not signals:
        raise TargetError("weighted merge: no parameter sets given")
    total = 0.0
    for s in signals:
        if not (math.isfinite(s.weight) and math.isfinite(s.position)):
            raise TargetError(f"parameter set {s.name}: weight and position must be finite")
        if s.weight < 0:
            raise TargetError(f"parameter set {s.name}: weight {s.weight} is negative")
        if not -1.0 <= s.position <= 1.0:
            raise TargetError(f"parameter set {s.name}: position {s.position} is outside [-1, 1]")
        total += s.weight
    if abs(total - weights_sum_to) > tolerance:
        raise TargetError(f"weighted merge: weights sum to {total:g}, expected {weights_sum_to:g}")
    contributions = tuple(
        Contribution(s.name, s.position, s.weight, s.weight * s.position) for s in signals
    )
    forecast = sum(c.contribution for c in contributions)
    return Merged(max(-1.0, min(1.0, forecast)), contributions)
