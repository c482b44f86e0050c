"""Venue refusals over FIX mapped to the one reason taxonomy (R5.5).

FIX carries a code (OrdRejReason 103 on an ExecutionReport, CxlRejReason 102 on an
OrderCancelReject) and free text (58). Standard codes map directly; the catch-all codes
(0 broker option, 99 other) are classified from the text, which a broker fills in.
The paper venue writes the reason's own name at the start of the text
(``insufficient_margin: ...``), so its rejects map exactly; a real broker's wording is
matched by keywords, and anything unrecognised is ``UNKNOWN`` (never retried blindly).
"""

from __future__ import annotations

from bastion.domain.reasons import Reason

__all__ = ["ORD_REJ_CODES", "code_for", "reason_for"]

ORD_REJ_CODES: dict[str, Reason] = {
    "1": Reason.INVALID_ORDER,  # unknown symbol
    "2": Reason.MARKET_CLOSED,  # exchange closed
    "3": Reason.POSITION_LIMIT,  # order exceeds limit
    "4": Reason.INVALID_ORDER,  # too late to enter
    "5": Reason.INVALID_ORDER,  # unknown order
    "6": Reason.DUPLICATE,  # duplicate order
    "11": Reason.INVALID_ORDER,  # unsupported order characteristic
    "13": Reason.INVALID_ORDER,  # incorrect quantity
    "16": Reason.PRICE_OUTSIDE_BAND,  # price exceeds current price band
    "18": Reason.INVALID_ORDER,  # invalid price increment
}

_KEYWORDS: tuple[tuple[str, Reason], ...] = (
    ("margin", Reason.INSUFFICIENT_MARGIN),
    ("band", Reason.PRICE_OUTSIDE_BAND),
    ("limit up", Reason.PRICE_OUTSIDE_BAND),
    ("limit down", Reason.PRICE_OUTSIDE_BAND),
    ("halt", Reason.HALTED),
    ("circuit", Reason.HALTED),
    ("closed", Reason.MARKET_CLOSED),
    ("session", Reason.MARKET_CLOSED),
    ("rate", Reason.RATE_LIMITED),
    ("throttl", Reason.RATE_LIMITED),
    ("position limit", Reason.POSITION_LIMIT),
    ("duplicate", Reason.DUPLICATE),
    ("disconnect", Reason.CONNECTION),
)

_BY_REASON: dict[Reason, str] = {
    Reason.INVALID_ORDER: "11",
    Reason.MARKET_CLOSED: "2",
    Reason.POSITION_LIMIT: "3",
    Reason.DUPLICATE: "6",
    Reason.PRICE_OUTSIDE_BAND: "16",
}


def reason_for(code: str | None, message: str | None) -> Reason:
    """The reason of a FIX reject, from its code and text."""
    words = (message or "").strip().lower()
    head = words.split(":", 1)[0]
    try:
        return Reason(head)
    except ValueError:
        pass
    if code is not None and code in ORD_REJ_CODES:
        return ORD_REJ_CODES[code]
    for keyword, reason in _KEYWORDS:
        if keyword in words:
            return reason
    return Reason.UNKNOWN


def code_for(reason: Reason) -> str:
    """The OrdRejReason the paper venue sends for ``reason`` (99 'other' by default)."""
    return _BY_REASON.get(reason, "99")
