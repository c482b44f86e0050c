"""What CTP's errors mean to Bastion: the one reason taxonomy (R5.5) and diagnoses.

    CtpError                         a CTP answer Bastion cannot go on from
    └── CtpLoginError                a step of the login failed (diagnosis in the text)

Three kinds of failure reach the adapter:

- **request return codes**: 0 sent, -1 network (not connected), -2 too many requests
  outstanding, -3 over the per-second limit. -2 and -3 are flow control: the request is
  retried with backoff and never read as "no data" (``RETRY_CODES``);
- **ErrorID** in a response (``OnRspXxx`` / ``OnErrRtnXxx``), with GBK text; ``reason_for``
  maps the id (and, for exchange rejects, the text) to a ``Reason``;
- **OnFrontDisconnected** reason codes, and silence: a front that never calls
  ``OnFrontConnected``. ``diagnose_*`` name the likely cause, as the operator's runtime
  guard asks (R10.3): a wrong-runtime front (production API build against an evaluation
  front, or the reverse; openctp's TTS runtime against a real CTP front) shows up as a
  connection that never comes up, a disconnect right after connect (0x2003, a packet it
  cannot decode) or ErrorID 4040 at authentication or login.
"""

from __future__ import annotations

from bastion.domain.reasons import Reason
from bastion.errors import BastionError

__all__ = [
    "ERROR_REASONS",
    "RETRY_CODES",
    "CtpError",
    "CtpLoginError",
    "describe_disconnect",
    "describe_return_code",
    "diagnose_error",
    "diagnose_silent_front",
    "reason_for",
]


class CtpError(BastionError):
    """A CTP answer the adapter cannot go on from."""


class CtpLoginError(CtpError):
    """Authentication, login or settlement confirmation failed; the text diagnoses it."""


RETRY_CODES = frozenset({-2, -3})
"""Flow control: too many requests in flight (-2) or per second (-3). Retry, later."""

_RETURN_CODES = {
    0: "sent",
    -1: "network failure (not connected to the front)",
    -2: "too many requests outstanding (flow control)",
    -3: "over the requests-per-second limit (flow control)",
}

ERROR_REASONS: dict[int, Reason] = {
    3: Reason.CONNECTION,  # invalid login
    6: Reason.CONNECTION,  # not logged in yet
    7: Reason.CONNECTION,  # not initialised
    8: Reason.CONNECTION,  # front not active
    15: Reason.INVALID_ORDER,  # bad order field
    16: Reason.INVALID_ORDER,  # instrument not found
    17: Reason.MARKET_CLOSED,  # instrument not trading
    22: Reason.DUPLICATE,  # duplicate order ref
    23: Reason.INVALID_ORDER,  # bad order action field
    24: Reason.DUPLICATE,  # duplicate order action ref
    25: Reason.INVALID_ORDER,  # order to cancel not found
    26: Reason.INVALID_ORDER,  # order fully traded or canceled: cannot cancel
    27: Reason.INVALID_ORDER,  # unsupported function
    28: Reason.POSITION_LIMIT,  # no trading right
    29: Reason.POSITION_LIMIT,  # close only
    30: Reason.INVALID_ORDER,  # close exceeds position
    31: Reason.INSUFFICIENT_MARGIN,  # insufficient money
    36: Reason.CONNECTION,  # broker synchronising
    42: Reason.TRADING_STATE,  # settlement not confirmed
    50: Reason.INVALID_ORDER,  # close-today exceeds today's position
    51: Reason.INVALID_ORDER,  # close-yesterday exceeds yesterday's position
    90: Reason.RATE_LIMITED,  # query not ready: retry later
}

_TEXT_REASONS: tuple[tuple[str, Reason], ...] = (
    ("资金不足", Reason.INSUFFICIENT_MARGIN),
    ("涨跌停", Reason.PRICE_OUTSIDE_BAND),
    ("价格超出", Reason.PRICE_OUTSIDE_BAND),
    ("非交易时间", Reason.MARKET_CLOSED),
    ("不能交易", Reason.MARKET_CLOSED),
    ("暂停交易", Reason.HALTED),
    ("停牌", Reason.HALTED),
    ("熔断", Reason.HALTED),
    ("平仓", Reason.INVALID_ORDER),
    ("仓位不足", Reason.INVALID_ORDER),
    ("持仓", Reason.INVALID_ORDER),
    ("字段有误", Reason.INVALID_ORDER),
    ("找不到合约", Reason.INVALID_ORDER),
    ("流控", Reason.RATE_LIMITED),
)


def reason_for(error_id: int, message: str) -> Reason:
    """The reason of a CTP error id; an exchange reject (no id) is read from its text."""
    if error_id in ERROR_REASONS:
        return ERROR_REASONS[error_id]
    for words, reason in _TEXT_REASONS:
        if words in message:
            return reason
    return Reason.UNKNOWN


def describe_return_code(code: int) -> str:
    return _RETURN_CODES.get(code, f"unexpected return code {code}")


_DISCONNECTS = {
    0x1001: "network read failed",
    0x1002: "network write failed",
    0x2001: "heartbeat not received in time",
    0x2002: "heartbeat could not be sent",
    0x2003: "received a packet it could not read",
}


def describe_disconnect(reason: int, *, connected_for: float | None = None) -> str:
    """``OnFrontDisconnected``'s reason code in words, with a diagnosis when it looks like
    the wrong runtime (a decode error right after connecting)."""
    words = _DISCONNECTS.get(reason, "unknown reason")
    text = f"front disconnected (0x{reason:04x}: {words})"
    if reason == 0x2003 and (connected_for is None or connected_for < 10):
        text += (
            "; likely a runtime that does not match the front: a production API build"
            " against an evaluation (test) front or the reverse, or openctp's TTS runtime"
            " against a real CTP front"
        )
    return text


def diagnose_error(step: str, error_id: int, message: str) -> str:
    """One line for a failed login step, naming the likely cause."""
    base = f"{step} failed: CTP ErrorID {error_id} ({message.strip() or 'no message'})"
    hints = {
        3: "user id or password wrong, or the user is not allowed on this front",
        4040: (
            "the front could not decode the request: the API build does not match this"
            " front (production vs evaluation runtime), or the wrong binding is installed"
        ),
        42: "settlement of the previous day not confirmed; confirm it, then log in again",
        63: "AppID/AuthCode refused: they must be the pair registered with this broker",
        64: "the terminal was not authenticated: ReqAuthenticate must succeed first",
        48: "investor id or password wrong",
        140: "first login: the password must be changed (in the broker's own terminal)",
    }
    hint = hints.get(error_id)
    return f"{base}; {hint}" if hint else base


def diagnose_silent_front(front: str, seconds: float) -> str:
    return (
        f"no answer from front {front} within {seconds:g} s: the front is down, closed"
        " outside its hours or unreachable; or the runtime does not match it (a production"
        " API build against an evaluation front, or the reverse, never completes the"
        " handshake)"
    )
