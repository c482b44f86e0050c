"""The risk limits as a table, the same in ``bastion risk status``, ``bastion risk
limits`` and ``bastion report risk``: every money limit with thousands separators, two
decimals and the account's base currency (the currency the risk checks compare it in),
and a run-time override beside the profile's value it replaced.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from bastion.config import RiskConfig
from bastion.reports.money import format_money
from bastion.reports.tables import TableData, grid
from bastion.risk.limits import PER_INSTRUMENT, SETTABLE

__all__ = ["MONEY_LIMITS", "limit_text", "limits_table"]

MONEY_LIMITS = frozenset({"max_notional", "daily_loss_limit", "weekly_loss_limit", "max_drawdown"})
"""Limits that are amounts of money in the account's base currency."""


def limit_text(name: str, value: object, currency: str) -> str:
    """One limit's value as a person reads it ("unset" where it is off)."""
    if value is None:
        return "unset"
    if name in MONEY_LIMITS and isinstance(value, Decimal | int | float):
        return format_money(Decimal(str(value)), currency)
    return str(value)


def limits_table(
    limits: RiskConfig,
    currency: str,
    *,
    profile: RiskConfig | None = None,
    overrides: Collection[str] = (),
    title: str = "Limits",
) -> TableData:
    """Every settable limit, then the per-instrument ones; ``overrides`` names those set
    at run time, shown with ``profile``'s value."""
    rows: list[tuple[str, str, str]] = []
    for name in SETTABLE:
        mark = ""
        if name in overrides:
            was = "" if profile is None else limit_text(name, getattr(profile, name), currency)
            mark = f"run-time override (profile: {was})" if was else "run-time override"
        rows.append((name, limit_text(name, getattr(limits, name), currency), mark))
    for key in PER_INSTRUMENT:
        values: dict[str, object] = getattr(limits, key)
        for instrument, value in sorted(values.items()):
            name = f"{key}.{instrument}"
            mark = "run-time override" if name in overrides else ""
            rows.append((name, str(value), mark))
    return grid(
        title,
        ("limit", "value", "set by"),
        [(n, v, m or "profile") for n, v, m in rows],
        numeric=(False, True, False),
        note=f"money limits in the account's base currency ({currency})",
    )
