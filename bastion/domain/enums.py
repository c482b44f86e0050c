"""Small closed vocabularies of the domain."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OffsetFlag", "OrderLevel", "OrderType", "Side", "TimeInForce"]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def of(cls, signed_quantity: int) -> Side:
        """The side that moves a position by ``signed_quantity`` (must be non-zero)."""
        if signed_quantity == 0:
            raise ValueError("a zero quantity has no side")
        return cls.BUY if signed_quantity > 0 else cls.SELL


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"


class OffsetFlag(StrEnum):
    """CTP's CombOffsetFlag, chosen by the adapter per exchange rules (R5.6)."""

    OPEN = "open"
    CLOSE = "close"
    CLOSE_TODAY = "close_today"
    CLOSE_YESTERDAY = "close_yesterday"


class OrderLevel(StrEnum):
    """The three levels of the order stack (R4.1)."""

    INSTRUMENT = "instrument"
    CONTRACT = "contract"
    BROKER = "broker"
