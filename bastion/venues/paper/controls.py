"""Control messages (U1) checked in full before they are logged as venue inputs.

A control drives the paper venue's market for the conformance suite and tests (quotes,
trades, time, session state, halts, faults). Two controls act on the wire only and are
never logged (``TRANSPORT_KINDS``): ``clock offset=S`` sets how far the venue's
SendingTime and TransactTime run from its real clock (S may be negative; 0 puts it
back), and ``silence on=1`` makes the venue send nothing and read nothing on every
connection but the one that asked, until that one sends ``silence on=0`` or goes away.

Parameters travel as ``key=value`` in tag 20102; ``control_payload`` returns them as
the input log stores them, or raises ``FieldError`` naming the tag, so a control that
could fail to apply is never logged (and a replay never meets one).
"""

from __future__ import annotations

import math

from bastion.domain.ids import ContractId
from bastion.venues.fix.wire import FieldError

__all__ = ["CONTROL_KINDS", "TRANSPORT_KINDS", "control_payload"]

_INT = "int"
_SIZE = "size"
_SECONDS = "seconds"
_OFFSET = "offset"
_FLAG = "flag"
_TEXT = "text"
_SPECS: dict[str, dict[str, str]] = {
    "quote": {"bid": _INT, "ask": _INT, "bid_size": _SIZE, "ask_size": _SIZE},
    "trade": {"price": _INT, "size": _SIZE},
    "advance": {"seconds": _SECONDS},
    "session": {"open": _TEXT},
    "eod": {},
    "refprice": {"ticks": _INT},
    "halt": {},
    "duplicate": {},
    "disconnect": {"seconds": _SECONDS},
    "clock": {"offset": _OFFSET},
    "silence": {"on": _FLAG},
}
_REQUIRED = {
    "quote": ("bid", "ask"),
    "trade": ("price", "size"),
    "advance": ("seconds",),
    "session": ("open",),
    "refprice": ("ticks",),
    "disconnect": ("seconds",),
    "clock": ("offset",),
    "silence": ("on",),
}
_WITH_CONTRACT = frozenset({"quote", "trade", "refprice", "halt"})
CONTROL_KINDS = frozenset(_SPECS)
TRANSPORT_KINDS = frozenset({"clock", "silence"})
"""Controls of the wire, not of the market: applied by the server, never logged."""
_MAX_SECONDS = 366 * 86400.0
_MAX_TICKS = 10**12


def _checked(key: str, kind: str, value: str) -> str:
    if kind == _TEXT:
        return value
    if kind == _FLAG:
        if value not in {"0", "1"}:
            raise FieldError(20102, 5, f"{key} must be 0 or 1: {value!r}")
        return value
    if kind == _OFFSET:
        try:
            offset = float(value)
        except ValueError:
            offset = math.nan
        if not -_MAX_SECONDS <= offset <= _MAX_SECONDS:
            raise FieldError(
                20102, 5, f"{key} must be -{_MAX_SECONDS:g}..{_MAX_SECONDS:g} seconds: {value!r}"
            )
        return value
    if kind == _SECONDS:
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not 0 <= seconds <= _MAX_SECONDS:
            raise FieldError(20102, 5, f"{key} must be 0..{_MAX_SECONDS:g} seconds: {value!r}")
        return value
    low = 1 if kind == _SIZE else 1 - _MAX_TICKS
    if not value.lstrip("-").isdigit() or len(value) > 14 or not low <= int(value) <= _MAX_TICKS:
        raise FieldError(20102, 5, f"{key} must be a whole number {low}..{_MAX_TICKS}: {value!r}")
    return value


def control_payload(op: str, params: list[str], contracts: list[ContractId]) -> dict[str, str]:
    """The input-log payload of control ``op`` with ``key=value`` ``params``."""
    spec = _SPECS.get(op)
    if spec is None:
        raise FieldError(20100, 5, f"unknown control operation {op!r}")
    payload: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep:
            raise FieldError(20102, 5, f"control parameter {param[:32]!r} is not key=value")
        if key == "contract" and op in _WITH_CONTRACT:
            if value not in contracts:
                raise FieldError(20102, 5, f"unknown contract {value[:32]!r}")
            payload[key] = value
        elif key in spec:
            payload[key] = _checked(key, spec[key], value)
        else:
            raise FieldError(20102, 5, f"control {op} takes no parameter {key[:32]!r}")
    missing = [k for k in _REQUIRED.get(op, ()) if k not in payload]
    if missing:
        raise FieldError(20102, 1, f"control {op} needs {', '.join(missing)}")
    if op in _WITH_CONTRACT:
        payload.setdefault("contract", min(contracts))
    return payload
