"""The signal plan's risk level (R3.4): what the plan permits the execution side to do.

- ``base``: normal; every order path may open, close and reduce.
- ``review``: closing, reducing and reconciling orders only; no new opens.
- missing or unknown: fail closed; only orders that reduce a position (and the kill
  switch) pass.

The level is written by whoever produced the plan (the target job, an operator) and
persisted in the store; the risk engine reads it, and a missing value is ``UNKNOWN``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from bastion.risk.persist import KEY_LEVEL, RiskStore, load_json, note, write_change

__all__ = ["RiskLevel", "load_risk_level", "parse_risk_level", "save_risk_level"]


class RiskLevel(StrEnum):
    BASE = "base"
    REVIEW = "review"
    UNKNOWN = "unknown"


def parse_risk_level(text: str | None) -> RiskLevel:
    """``base`` or ``review``; anything else, or nothing, is ``UNKNOWN`` (fail closed)."""
    if text is None:
        return RiskLevel.UNKNOWN
    cleaned = text.strip().lower()
    if cleaned in {RiskLevel.BASE, RiskLevel.REVIEW}:
        return RiskLevel(cleaned)
    return RiskLevel.UNKNOWN


def load_risk_level(store: RiskStore) -> tuple[RiskLevel, str]:
    """The persisted level and where it came from; ``UNKNOWN`` when none was written."""
    saved = load_json(store, KEY_LEVEL)
    raw = saved.get("level")
    return parse_risk_level(None if raw is None else str(raw)), str(saved.get("source", ""))


def save_risk_level(
    store: RiskStore, text: str | None, source: str, when: dt.datetime
) -> RiskLevel:
    """Persist a plan's level as given (unknown text is stored as ``unknown``); journaled."""
    level = parse_risk_level(text)
    before, _ = load_risk_level(store)
    record = note(
        when,
        "risk.level",
        f"risk level {level} from {source}"
        + ("" if level is not RiskLevel.UNKNOWN else f" (given {text!r}: fail closed)"),
        level=level,
        before=before,
        source=source,
    )
    tightens = level is not RiskLevel.BASE
    value = {"level": level.value, "source": source, "at": when.isoformat()}
    write_change(store, KEY_LEVEL, value, record, tightens=tightens)
    return level
