"""CTP's one-character codes, as Bastion reads and writes them.

The values are CTP's own (``THOST_FTDC_*`` in the binding); they are written out here so
the adapter's pure parts load without the binding, and a test checks every one against
the binding's constants. ``ORDER_STATUS`` is closed on purpose: a status code that is not
in it is *unmapped*, and the adapter halts on it instead of guessing (VENUES.md).
"""

from __future__ import annotations

from enum import StrEnum

from bastion.domain.enums import OffsetFlag, Side

__all__ = [
    "DIRECTION",
    "OFFSET",
    "OFFSET_OF",
    "SIDE_OF",
    "CloseBook",
    "InstrumentStatus",
    "OrderStatus",
    "PositionDate",
    "PositionDirection",
    "ResumeType",
    "SubmitStatus",
]

DIRECTION: dict[Side, str] = {Side.BUY: "0", Side.SELL: "1"}
SIDE_OF: dict[str, Side] = {v: k for k, v in DIRECTION.items()}

OFFSET: dict[OffsetFlag, str] = {
    OffsetFlag.OPEN: "0",
    OffsetFlag.CLOSE: "1",
    OffsetFlag.CLOSE_TODAY: "3",
    OffsetFlag.CLOSE_YESTERDAY: "4",
}
OFFSET_OF: dict[str, OffsetFlag] = {v: k for k, v in OFFSET.items()}
FORCE_CLOSE_OFFSETS = frozenset({"2", "5", "6"})
"""ForceClose, ForceOff, LocalForceClose: the broker closed a position (a close)."""


class OrderStatus(StrEnum):
    ALL_TRADED = "0"
    PART_TRADED_QUEUEING = "1"
    PART_TRADED_NOT_QUEUEING = "2"
    NO_TRADE_QUEUEING = "3"
    NO_TRADE_NOT_QUEUEING = "4"
    CANCELED = "5"
    UNKNOWN = "a"  # accepted by CTP, not yet by the exchange
    NOT_TOUCHED = "b"  # conditional orders (Bastion sends none)
    TOUCHED = "c"


WORKING_STATUSES = frozenset(
    {
        OrderStatus.PART_TRADED_QUEUEING,
        OrderStatus.NO_TRADE_QUEUEING,
        OrderStatus.UNKNOWN,
        OrderStatus.NOT_TOUCHED,
        OrderStatus.TOUCHED,
    }
)


class SubmitStatus(StrEnum):
    INSERT_SUBMITTED = "0"
    CANCEL_SUBMITTED = "1"
    MODIFY_SUBMITTED = "2"
    ACCEPTED = "3"
    INSERT_REJECTED = "4"
    CANCEL_REJECTED = "5"
    MODIFY_REJECTED = "6"


class PositionDirection(StrEnum):
    NET = "1"
    LONG = "2"
    SHORT = "3"


class PositionDate(StrEnum):
    TODAY = "1"
    HISTORY = "2"


class InstrumentStatus(StrEnum):
    BEFORE_TRADING = "0"
    NO_TRADING = "1"
    CONTINUOUS = "2"
    AUCTION_ORDERING = "3"
    AUCTION_BALANCE = "4"
    AUCTION_MATCH = "5"
    CLOSED = "6"


class ResumeType:
    """How a flow is subscribed (``THOST_TE_RESUME_TYPE``)."""

    RESTART = 0  # the whole trading day again: how the adapter rebuilds after a restart
    RESUME = 1
    QUICK = 2  # only what comes after the login


class CloseBook(StrEnum):
    """Which bucket a close takes from."""

    TODAY = "today"
    YESTERDAY = "yesterday"


PRICE_TYPE_LIMIT = "2"
TIME_GFD = "3"
TIME_IOC = "1"
VOLUME_ANY = "1"
VOLUME_ALL = "3"
CONTINGENT_IMMEDIATELY = "1"
FORCE_CLOSE_NOT = "0"
HEDGE_SPECULATION = "1"
ACTION_DELETE = "0"

BINDING_NAMES: dict[str, str] = {
    "THOST_FTDC_D_Buy": "0",
    "THOST_FTDC_D_Sell": "1",
    "THOST_FTDC_OF_Open": "0",
    "THOST_FTDC_OF_Close": "1",
    "THOST_FTDC_OF_ForceClose": "2",
    "THOST_FTDC_OF_CloseToday": "3",
    "THOST_FTDC_OF_CloseYesterday": "4",
    "THOST_FTDC_OF_ForceOff": "5",
    "THOST_FTDC_OF_LocalForceClose": "6",
    "THOST_FTDC_OST_AllTraded": "0",
    "THOST_FTDC_OST_PartTradedQueueing": "1",
    "THOST_FTDC_OST_PartTradedNotQueueing": "2",
    "THOST_FTDC_OST_NoTradeQueueing": "3",
    "THOST_FTDC_OST_NoTradeNotQueueing": "4",
    "THOST_FTDC_OST_Canceled": "5",
    "THOST_FTDC_OST_Unknown": "a",
    "THOST_FTDC_OST_NotTouched": "b",
    "THOST_FTDC_OST_Touched": "c",
    "THOST_FTDC_OSS_InsertSubmitted": "0",
    "THOST_FTDC_OSS_CancelSubmitted": "1",
    "THOST_FTDC_OSS_ModifySubmitted": "2",
    "THOST_FTDC_OSS_Accepted": "3",
    "THOST_FTDC_OSS_InsertRejected": "4",
    "THOST_FTDC_OSS_CancelRejected": "5",
    "THOST_FTDC_OSS_ModifyRejected": "6",
    "THOST_FTDC_PD_Net": "1",
    "THOST_FTDC_PD_Long": "2",
    "THOST_FTDC_PD_Short": "3",
    "THOST_FTDC_PSD_Today": "1",
    "THOST_FTDC_PSD_History": "2",
    "THOST_FTDC_IS_BeforeTrading": "0",
    "THOST_FTDC_IS_NoTrading": "1",
    "THOST_FTDC_IS_Continous": "2",
    "THOST_FTDC_IS_AuctionOrdering": "3",
    "THOST_FTDC_IS_AuctionBalance": "4",
    "THOST_FTDC_IS_AuctionMatch": "5",
    "THOST_FTDC_IS_Closed": "6",
    "THOST_FTDC_OPT_LimitPrice": "2",
    "THOST_FTDC_TC_GFD": "3",
    "THOST_FTDC_TC_IOC": "1",
    "THOST_FTDC_VC_AV": "1",
    "THOST_FTDC_VC_CV": "3",
    "THOST_FTDC_CC_Immediately": "1",
    "THOST_FTDC_FCC_NotForceClose": "0",
    "THOST_FTDC_HF_Speculation": "1",
    "THOST_FTDC_AF_Delete": "0",
}
"""Each code above under the binding's name: the test compares them one by one."""

RESUME_NAMES: dict[str, int] = {
    "THOST_TERT_RESTART": ResumeType.RESTART,
    "THOST_TERT_RESUME": ResumeType.RESUME,
    "THOST_TERT_QUICK": ResumeType.QUICK,
}
