"""Risk limits: the profile's values, overridden at run time through the store.

The profile's ``risk`` section is the baseline. ``bastion risk limits --set NAME=VALUE``
stores an override; the effective limits are the profile's with every override laid
over it, validated by the same model (so a bad value is refused the same way a bad
profile is). Every change is journaled as a ``risk.limits`` note with the old value, the
new one and the operator's reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from bastion.config import RiskConfig
from bastion.errors import ConfigError, UserError
from bastion.risk.persist import KEY_LIMITS, RiskStore, load_json, note, write_change

__all__ = ["PER_INSTRUMENT", "SETTABLE", "LimitBook", "effective_limits", "limit_value"]

_PER_INSTRUMENT = "instrument_position_lots"
PER_INSTRUMENT: tuple[str, ...] = (
    _PER_INSTRUMENT,
    "instrument_tolerance_ticks",
    "instrument_spread_ticks",
    "instrument_traded_lots_per_day",
)
"""Limits set per instrument, as ``NAME.INSTRUMENT``."""
SETTABLE: tuple[str, ...] = tuple(n for n in RiskConfig.model_fields if n not in PER_INSTRUMENT)
"""Limit names ``--set`` accepts, besides ``NAME.INSTRUMENT`` for ``PER_INSTRUMENT``."""

_ACTION_ORDER = {"reduce": 0, "halt": 1, "kill": 2}
_LOWER_IS_TIGHTER = frozenset(
    {
        "max_order_lots",
        "max_position_lots",
        "max_strategy_position_lots",
        "max_traded_lots_per_day",
        *PER_INSTRUMENT,
        "max_notional",
        "price_tolerance_ticks",
        "price_tolerance_percent",
        "orders_per_second",
        "order_burst",
        "daily_loss_limit",
        "weekly_loss_limit",
        "max_drawdown",
        "margin_high_mark",
        "stale_data_seconds",
        "max_spread_ticks",
    }
)
_HIGHER_IS_TIGHTER = frozenset({"spread_hold_seconds", "expiry_guard_days"})


def _check_name(name: str) -> None:
    base, dot, instrument = name.partition(".")
    if dot and base in PER_INSTRUMENT and instrument:
        return
    if not dot and name in SETTABLE:
        return
    raise UserError(
        f"unknown risk limit {name!r}; known limits: {', '.join(SETTABLE)},"
        f" {', '.join(f'{n}.INSTRUMENT' for n in PER_INSTRUMENT)}"
    )


def effective_limits(base: RiskConfig, overrides: Mapping[str, Any]) -> RiskConfig:
    """The profile's limits with ``overrides`` laid over; a ``ConfigError`` naming the
    limit, the value and the expected form if the result is not valid."""
    data = base.model_dump()
    for key in PER_INSTRUMENT:
        data[key] = dict(data[key])
    for name, value in overrides.items():
        _check_name(name)
        key, dot, instrument = name.partition(".")
        if dot:
            if value is None:
                data[key].pop(instrument, None)
            else:
                data[key][instrument] = value
        else:
            data[name] = value
    try:
        return RiskConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"]) or "limits"
            message = str(error["msg"]).removeprefix("Value error, ")
            shown = error.get("input")
            value = "" if isinstance(shown, dict) else f" got {shown!r},"
            problems.append(f"{loc}:{value} expected {message[0].lower()}{message[1:]}")
        raise ConfigError(f"risk limits: {'; '.join(problems)}") from None


def limit_value(limits: RiskConfig, name: str) -> object:
    _check_name(name)
    key, dot, instrument = name.partition(".")
    if dot:
        values: dict[str, object] = getattr(limits, key)
        return values.get(instrument)
    return getattr(limits, name)


def _parse_value(text: str) -> str | None:
    stripped = text.strip()
    if not stripped:
        raise UserError("a limit value is empty; give a number, an action, or 'none'")
    return None if stripped.lower() in {"none", "unset", "null"} else stripped


def _tightens(name: str, old: object, new: object) -> bool:
    base = name.split(".", 1)[0]
    if base.endswith("_action"):
        return _ACTION_ORDER[str(new)] >= _ACTION_ORDER[str(old)]
    if base in _HIGHER_IS_TIGHTER:
        return new is not None and (old is None or bool(new >= old))  # type: ignore[operator]
    if base not in _LOWER_IS_TIGHTER:
        return False
    if new is None:
        return False  # removing a limit loosens
    if old is None:
        return True
    return bool(new <= old)  # type: ignore[operator]


class LimitBook:
    """The effective limits of one profile and store."""

    def __init__(self, base: RiskConfig, store: RiskStore) -> None:
        self.base = base
        self._store = store
        self.overrides: dict[str, Any] = {}
        self.limits = base
        self.reload()

    def reload(self) -> RiskConfig:
        """Re-read the overrides; raises ``ConfigError`` if they no longer validate."""
        overrides = load_json(self._store, KEY_LIMITS)
        limits = effective_limits(self.base, overrides)
        self.overrides, self.limits = overrides, limits
        return limits

    def set(self, name: str, text: str, reason: str, when: dt.datetime) -> tuple[object, object]:
        """Override one limit; returns (old value, new value). Journaled."""
        reason = reason.strip()
        if not reason:
            raise UserError(f"changing {name} needs a reason (--reason TEXT)")
        _check_name(name)
        self.reload()
        value = _parse_value(text)
        overrides = {**self.overrides, name: value}
        limits = effective_limits(self.base, overrides)
        old, new = limit_value(self.limits, name), limit_value(limits, name)
        record = note(
            when,
            "risk.limits",
            f"limit {name} changed from {old} to {new}: {reason}",
            limit=name,
            before=old,
            after=new,
            reason=reason,
        )
        write_change(self._store, KEY_LIMITS, overrides, record, tightens=_tightens(name, old, new))
        self.overrides, self.limits = overrides, limits
        return old, new

    def reset(self, name: str, reason: str, when: dt.datetime) -> tuple[object, object]:
        """Drop an override: the profile's value applies again. Journaled."""
        reason = reason.strip()
        if not reason:
            raise UserError(f"resetting {name} needs a reason (--reason TEXT)")
        _check_name(name)
        self.reload()
        if name not in self.overrides:
            raise UserError(f"limit {name} has no run-time override to reset")
        overrides = {k: v for k, v in self.overrides.items() if k != name}
        limits = effective_limits(self.base, overrides)
        old, new = limit_value(self.limits, name), limit_value(limits, name)
        record = note(
            when,
            "risk.limits",
            f"limit {name} reset from {old} to the profile's {new}: {reason}",
            limit=name,
            before=old,
            after=new,
            reason=reason,
        )
        write_change(self._store, KEY_LIMITS, overrides, record, tightens=_tightens(name, old, new))
        self.overrides, self.limits = overrides, limits
        return old, new
