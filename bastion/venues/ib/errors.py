"""The IB adapter's errors, and what Bastion does on each IB message code it knows.

    BastionError
    └── UserError
        └── IbRefused               Bastion will not trade through this connection
            ├── ClientIdInUse       error 326: the client id is held by another client
            └── AccountMismatch     the login's accounts do not fit the profile

``IbRefused`` is raised by ``IbVenue.connect`` (one line; the CLI prints it and exits 2).
Everything else IB says arrives as a code on ``errorEvent``; ``KNOWN_CODES`` says how
each is read (``ErrorKind``) and what Bastion does, and ``docs/ib.md`` prints the table.
A code not in the table is logged as an error; an order it names stays in flight until a
status query or reconciliation settles it: it is never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bastion.domain.reasons import Reason
from bastion.errors import UserError

__all__ = [
    "KNOWN_CODES",
    "AccountMismatch",
    "ClientIdInUse",
    "ErrorKind",
    "IbRefused",
    "KnownCode",
    "known_code",
    "reject_reason",
]


class IbRefused(UserError):  # noqa: N818 - a refusal, not a failure
    """Bastion refuses to trade through this IB connection; the message says why."""


class ClientIdInUse(IbRefused):
    """Error 326: another client (or a session TWS has not released) holds the id."""


class AccountMismatch(IbRefused):
    """The login manages accounts that do not fit the profile (paper/live, or not its own)."""


class ErrorKind(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CONNECTIVITY_LOST = "connectivity_lost"
    RESTORED_DATA_LOST = "restored_data_lost"
    RESTORED_DATA_KEPT = "restored_data_kept"
    CLIENT_ID_IN_USE = "client_id_in_use"
    NOT_CONNECTED = "not_connected"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCELED = "order_canceled"
    CANCEL_REJECTED = "cancel_rejected"
    CONTRACT_UNKNOWN = "contract_unknown"
    MARKET_DATA_DELAYED = "market_data_delayed"
    MARKET_DATA_UNAVAILABLE = "market_data_unavailable"


@dataclass(frozen=True, slots=True)
class KnownCode:
    code: int
    kind: ErrorKind
    meaning: str
    action: str
    """What Bastion does (printed in docs/ib.md)."""
    reason: Reason | None = None
    """For a rejected order: the reject reason (201 reads the text instead)."""


def _codes(*rows: KnownCode) -> dict[int, KnownCode]:
    return {row.code: row for row in rows}


_REJECT = "the order is rejected with this reason; never retried blindly"
_CANCEL_REJECT = "the cancel is rejected; the order keeps its state until IB reports it"
KNOWN_CODES: dict[int, KnownCode] = _codes(
    KnownCode(103, ErrorKind.ORDER_REJECTED, "duplicate order id", _REJECT, Reason.DUPLICATE),
    KnownCode(104, ErrorKind.CANCEL_REJECTED, "cannot modify a filled order", _CANCEL_REJECT),
    KnownCode(
        110, ErrorKind.ORDER_REJECTED, "price not on the tick", _REJECT, Reason.INVALID_ORDER
    ),
    KnownCode(
        111, ErrorKind.ORDER_REJECTED, "time in force and order type incompatible", _REJECT,
        Reason.INVALID_ORDER,
    ),
    KnownCode(135, ErrorKind.CANCEL_REJECTED, "no order with that id", _CANCEL_REJECT),
    KnownCode(161, ErrorKind.CANCEL_REJECTED, "order not in a cancellable state", _CANCEL_REJECT),
    KnownCode(
        163, ErrorKind.ORDER_REJECTED, "price beyond IB's percentage constraint", _REJECT,
        Reason.PRICE_OUTSIDE_BAND,
    ),
    KnownCode(
        200, ErrorKind.CONTRACT_UNKNOWN, "no security definition",
        "a contract query finds nothing: the contract is not traded; an order: rejected",
        Reason.INVALID_ORDER,
    ),
    KnownCode(
        201, ErrorKind.ORDER_REJECTED, "order rejected, with a reason text",
        "rejected; the reason is read from the text (margin, price limits, halt, closed),"
        " otherwise unknown",
    ),
    KnownCode(
        202, ErrorKind.ORDER_CANCELED, "order canceled",
        "the order is canceled (an expiry when Bastion did not ask and the order was DAY/GTD)",
    ),
    KnownCode(
        326, ErrorKind.CLIENT_ID_IN_USE, "client id already in use",
        "refused at once with the reason (not left to a timeout); on a reconnect: alert and"
        " keep retrying with backoff",
    ),
    KnownCode(
        354, ErrorKind.MARKET_DATA_UNAVAILABLE, "market data not subscribed",
        "no quotes: the contract's market data is missing, so new orders pause",
    ),
    KnownCode(
        387, ErrorKind.ORDER_REJECTED, "unsupported order type", _REJECT, Reason.INVALID_ORDER
    ),
    KnownCode(399, ErrorKind.WARNING, "order message (e.g. held until the open)", "logged"),
    KnownCode(434, ErrorKind.ORDER_REJECTED, "order size zero", _REJECT, Reason.INVALID_ORDER),
    KnownCode(502, ErrorKind.NOT_CONNECTED, "could not connect to TWS", "reconnect with backoff"),
    KnownCode(504, ErrorKind.NOT_CONNECTED, "not connected", "reconnect with backoff"),
    KnownCode(
        1100, ErrorKind.CONNECTIVITY_LOST, "TWS lost its connection to IB",
        "new orders halt (order calls refused, snapshots unknown) with the socket still up",
    ),
    KnownCode(
        1101, ErrorKind.RESTORED_DATA_LOST, "connectivity restored, data lost",
        "a new connection epoch (recovery and reconciliation before trading) and market data"
        " subscribed again",
    ),
    KnownCode(
        1102, ErrorKind.RESTORED_DATA_KEPT, "connectivity restored, data kept",
        "a new connection epoch (recovery and reconciliation before trading)",
    ),
    KnownCode(1300, ErrorKind.NOT_CONNECTED, "TWS changed its socket port", "reconnect"),
    KnownCode(2103, ErrorKind.WARNING, "market data farm disconnected", "logged"),
    KnownCode(2104, ErrorKind.INFO, "market data farm connection OK", "logged"),
    KnownCode(2105, ErrorKind.WARNING, "historical data farm disconnected", "logged"),
    KnownCode(2106, ErrorKind.INFO, "historical data farm connection OK", "logged"),
    KnownCode(2107, ErrorKind.INFO, "historical data farm inactive", "logged"),
    KnownCode(2108, ErrorKind.INFO, "market data farm inactive", "logged"),
    KnownCode(2110, ErrorKind.WARNING, "TWS to server connectivity broken", "logged"),
    KnownCode(2157, ErrorKind.WARNING, "security definition farm disconnected", "logged"),
    KnownCode(2158, ErrorKind.INFO, "security definition farm connection OK", "logged"),
    KnownCode(10147, ErrorKind.CANCEL_REJECTED, "order to cancel not found", _CANCEL_REJECT),
    KnownCode(10148, ErrorKind.CANCEL_REJECTED, "order cannot be cancelled", _CANCEL_REJECT),
    KnownCode(
        10167, ErrorKind.MARKET_DATA_DELAYED, "delayed market data shown",
        "quotes are kept but count as stale, so new orders pause",
    ),
    KnownCode(
        10197, ErrorKind.MARKET_DATA_UNAVAILABLE, "no market data in a competing session",
        "no quotes: new orders pause",
    ),
)  # fmt: skip

_TEXT_REASONS: tuple[tuple[str, Reason], ...] = (
    ("MARGIN", Reason.INSUFFICIENT_MARGIN),
    ("PRICE LIMIT", Reason.PRICE_OUTSIDE_BAND),
    ("HALTED", Reason.HALTED),
    ("CLOSED", Reason.MARKET_CLOSED),
)


def known_code(code: int) -> KnownCode | None:
    return KNOWN_CODES.get(code)


def reject_reason(code: int, text: str) -> Reason:
    """The reason an order was rejected, from its code (and for 201, its text)."""
    row = KNOWN_CODES.get(code)
    if row is not None and row.reason is not None:
        return row.reason
    upper = text.upper()
    for needle, reason in _TEXT_REASONS:
        if needle in upper:
            return reason
    return Reason.UNKNOWN
