"""Positions near expiry for the daily report (R2.1, issue 15): every contract held
within the profile's ``expiry_guard_days`` trading days of its last trade day or
(physical delivery) first notice day, as the risk engine's expiry guard judges it
(``bastion.risk.expiry``). The roll should have moved them; these are the ones it did
not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bastion.config import Profile
from bastion.domain.ids import ContractId, InstrumentId
from bastion.engine.days import expiry_calendar_for
from bastion.errors import DataError
from bastion.reports.sources import profile_specs
from bastion.reports.tables import TableData, grid
from bastion.risk.expiry import expiry_window

__all__ = ["expiring_positions", "expiry_table"]

COLUMNS = ("contract", "position", "event", "day", "trading days left")


def expiring_positions(
    profile: Profile, positions: Mapping[str, int], now: dt.datetime
) -> list[tuple[str, str, str, str, str]]:
    """(contract, position, event, day, trading days left) of each held contract in its
    expiry window now; a contract whose days cannot be known is listed with the reason."""
    window = profile.risk.expiry_guard_days
    specs = profile_specs(profile)
    calendar = expiry_calendar_for(specs)
    rows: list[tuple[str, str, str, str, str]] = []
    if calendar is None or window <= 0:
        return rows
    for cid, lots in sorted(positions.items()):
        iid = InstrumentId(cid.split("/", 1)[0])
        if not lots or iid not in specs:
            continue
        try:
            found = expiry_window(calendar, ContractId(cid), now, window)
        except DataError as exc:
            rows.append((cid, f"{lots:+d}", "unknown", str(exc), "-"))
            continue
        if found is not None:
            left = str(found.days_left) if found.days_left >= 0 else "past"
            rows.append((cid, f"{lots:+d}", found.event, str(found.event_day), left))
    return rows


def expiry_table(profile: Profile, rows: list[tuple[str, str, str, str, str]]) -> TableData:
    window = profile.risk.expiry_guard_days
    title = f"Positions near expiry (within {window} trading days)"
    note = (
        "Reduce-only: nothing opens in these contracts; roll or close them."
        if rows
        else ("none held" if window > 0 else "the expiry guard is off (expiry_guard_days: 0)")
    )
    return grid(title, COLUMNS, rows, numeric=(False, True, False, False, True), note=note)
