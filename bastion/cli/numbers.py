"""Bounds for numeric command-line options (R1.4, issue 16).

Click's ranges let ``nan`` through (every comparison with it is false) and accept
``inf`` when there is no upper bound, so each numeric option here has a callback that
refuses a value that is not finite or lies outside its documented bounds, as one line
naming the option, the value and the bound (a ``UserError``: exit status 2).

=================  ====================  ===========================================
option             bounds                used by
=================  ====================  ===========================================
``--timeout``      0 < s <= 3600         probe, reconcile (and venue serve's
                                         ``--logon-timeout``)
``--roll-early``   0 <= days <= 60       data roll-calendar
``--revise-days``  0 <= days <= 366      data import, data import-pysystemtrade
``--interval``     0 <= s <= 86400       session --watch
``--cycles``       0 <= n <= 1000000     session --watch
``--seconds``      1 <= s <= 604800      session (venue profiles)
``--tick-seconds`` 0 < s <= 3600         venue serve
``--heartbeat``    1 <= s <= 300         venue serve (as a profile's heartbeat_seconds)
``--max-seconds``  0 < s <= 604800       venue serve, watchdog
=================  ====================  ===========================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from bastion.errors import UserError

__all__ = [
    "MAX_CYCLES",
    "MAX_HEARTBEAT_SECONDS",
    "MAX_INTERVAL_SECONDS",
    "MAX_REVISE_DAYS",
    "MAX_ROLL_EARLY_DAYS",
    "MAX_RUN_SECONDS",
    "MAX_TICK_SECONDS",
    "MAX_TIMEOUT_SECONDS",
    "MIN_HEARTBEAT_SECONDS",
    "bounded",
]

MAX_TIMEOUT_SECONDS = 3600.0
MAX_ROLL_EARLY_DAYS = 60
MAX_REVISE_DAYS = 366
MAX_INTERVAL_SECONDS = 86400.0
"""A day between two rounds of a watch."""
MAX_CYCLES = 1_000_000
MAX_RUN_SECONDS = 7 * 86400.0
"""A week: the longest a session or a venue process is told to run."""
MAX_TICK_SECONDS = 3600.0
MIN_HEARTBEAT_SECONDS, MAX_HEARTBEAT_SECONDS = 1.0, 300.0

N = TypeVar("N", int, float)


def bounded(
    option: str, low: float, high: float, *, low_open: bool = False, unit: str = ""
) -> Callable[[N], N]:
    """A typer callback refusing ``option`` values that are not finite or out of bounds."""
    lower = f"{'>' if low_open else '>='} {low:g}"
    suffix = f" {unit}" if unit else ""

    def check(value: N) -> N:
        if value is None:
            return value
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            raise UserError(
                f"{option} {value!r}: expected a finite number {lower} and <= {high:g}{suffix}"
            )
        return value

    return check
