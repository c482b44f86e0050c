"""IB's TWS API framing, as the fake TWS speaks it (written from IB's published protocol).

- The client opens with ``API\\0`` and one length-prefixed text ``v<min>..<max>`` (its
  supported versions); the server answers with a prefixed message of two fields: its
  server version and its connection time.
- Every later message, both ways, is a 4-byte big-endian length, then text fields each
  ended by ``\\0``. The first field is the message id; most client requests then carry a
  version number.

``FrameReader`` splits a byte stream into field lists; ``frame`` encodes one message.
Message ids are named in ``In`` (client to server) and ``Out`` (server to client).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import Decimal

__all__ = ["HANDSHAKE", "FrameReader", "In", "Out", "frame", "text"]

HANDSHAKE = b"API\0"


class In:
    """Message ids a client sends."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99


class Out:
    """Message ids the server sends."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


def text(value: object) -> str:
    """One field as IB writes it: empty for ``None``, ``1``/``0`` for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def frame(fields: Sequence[object]) -> bytes:
    """One message: the length prefix, then each field ended by ``\\0``."""
    body = "".join(text(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


class FrameReader:
    """Splits the bytes a peer sends into messages (lists of text fields)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[list[str]]:
        self._buffer += data
        out: list[list[str]] = []
        while len(self._buffer) >= 4:
            size = struct.unpack(">I", self._buffer[:4])[0]
            if len(self._buffer) < 4 + size:
                break
            body = self._buffer[4 : 4 + size].decode(errors="replace")
            self._buffer = self._buffer[4 + size :]
            fields = body.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
        return out
