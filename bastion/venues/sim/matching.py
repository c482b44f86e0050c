"""The fill model: how much of an order trades, at what price, on each piece of data.

Pure functions of an order and the market; the venue commits what they return. Each
returns ``(lots, price_ticks)`` with ``lots == 0`` meaning no fill. They may update the
order's stop trigger and its queue position, which are part of the model's state.
``side sign`` is +1 for a buy and -1 for a sell; "through" a price means strictly
beyond it from the order's point of view. ``docs/sim-venue.md`` explains the model.
"""

from __future__ import annotations

from bastion.domain.enums import OrderType
from bastion.venues.sim.config import SlippageConfig, SlippageKind
from bastion.venues.sim.market_data import Bar, MarketState, Trade
from bastion.venues.sim.parsing import SimOrder

__all__ = [
    "init_queue",
    "match_on_bar",
    "match_on_quote",
    "match_on_trade",
    "slippage_ticks",
]

NO_FILL = (0, 0)


def slippage_ticks(config: SlippageConfig, price_ticks: int, market: MarketState) -> int:
    """How many ticks worse than the touch a market order or triggered stop fills."""
    kind = config.kind
    if kind is SlippageKind.NONE:
        return 0
    if kind is SlippageKind.FIXED_TICKS:
        return config.ticks
    if kind is SlippageKind.PROPORTIONAL:
        return -(-abs(price_ticks) * config.basis_points // 10_000)  # ceiling division
    return int(config.volatility_multiple * market.mean_range() + 0.5)


def _clamp(price: int, market: MarketState) -> int:
    band = market.band()
    if band is None:
        return price
    return min(max(price, band[0]), band[1])


def init_queue(order: SimOrder, market: MarketState) -> None:
    """Place a resting limit in the queue from what the quote shows.

    At our own touch we join behind everything displayed there; a price better than
    the touch opens a new level (nobody ahead); behind the touch the depth is not
    visible, so the queue stays unknown until our price becomes the touch.
    """
    if order.queue_ahead is not None or order.limit_ticks is None or not order.triggered:
        return
    own_touch = market.bid_ticks if order.sign > 0 else market.ask_ticks
    if own_touch is None:
        return
    gap = order.sign * (order.limit_ticks - own_touch)
    if gap == 0:
        quote = market.last_quote
        if quote is not None:
            order.queue_ahead = quote.bid_size if order.sign > 0 else quote.ask_size
    elif gap > 0:
        order.queue_ahead = 0


def match_on_quote(
    order: SimOrder, market: MarketState, slippage: SlippageConfig, *, arriving: bool
) -> tuple[int, int]:
    """Match against the top of the book.

    A market order (or triggered stop) takes the displayed size at the offside touch,
    plus slippage. A marketable limit takes it at the touch. A resting limit that the
    quote has moved through (the offside now at or beyond the limit) fills at its
    limit: the orders ahead at its level are gone, or the level would still show.
    """
    sign = order.sign
    offside = market.ask_ticks if sign > 0 else market.bid_ticks
    if offside is None:
        return NO_FILL
    if not order.triggered:
        if order.stop_ticks is None or sign * (offside - order.stop_ticks) < 0:
            return NO_FILL
        order.triggered = True
        arriving = True  # a triggered stop-limit is a new marketable-or-resting limit
    available = market.ask_available if sign > 0 else market.bid_available
    if available <= 0:
        return NO_FILL
    lots = min(order.remaining, available)
    if order.acts_as_market:
        return lots, _clamp(offside + sign * slippage_ticks(slippage, offside, market), market)
    limit = order.limit_ticks
    if limit is None or sign * (limit - offside) < 0:
        init_queue(order, market)
        return NO_FILL
    return lots, (offside if arriving else limit)


def match_on_trade(order: SimOrder, trade: Trade, market: MarketState) -> tuple[int, int]:
    """Match a print: it triggers stops, and drives the queue of a resting limit."""
    sign = order.sign
    price = trade.price_ticks
    if not order.triggered:
        if order.stop_ticks is None or sign * (price - order.stop_ticks) < 0:
            return NO_FILL
        order.triggered = True
    if order.acts_as_market:
        return min(order.remaining, trade.size), _clamp(price, market)
    limit = order.limit_ticks
    if limit is None:
        return NO_FILL
    through = sign * (limit - price)
    if through < 0:
        return NO_FILL
    if through > 0:
        return min(order.remaining, trade.size), limit
    # A print at our level: it first clears the queue ahead of us. An unknown queue is
    # assumed to be exactly this print (conservative: we fill from the next one).
    ahead = trade.size if order.queue_ahead is None else order.queue_ahead
    order.queue_ahead = max(0, ahead - trade.size)
    return min(order.remaining, max(0, trade.size - ahead)), limit


def match_on_bar(  # noqa: PLR0911 - one return per branch of the bar model
    order: SimOrder,
    bar: Bar,
    market: MarketState,
    slippage: SlippageConfig,
    *,
    cap: int,
    touch_fraction: float,
) -> tuple[int, int]:
    """Match one bar. ``cap`` is what participation still allows in this bar.

    The order sees the bar's open first. Stops trigger if the bar reaches them and fill
    at the worse of the open and the stop, plus slippage. Market orders fill at the open
    plus slippage. A limit fills at the open if the open is at or better than the limit,
    at its limit if the bar trades through it, and at its level only for what traded
    there (``touch_fraction`` of the volume) beyond the queue ahead of it.
    """
    if cap <= 0:
        return NO_FILL
    sign = order.sign
    lots = min(order.remaining, cap)
    price: int
    if not order.triggered:
        extreme = bar.high_ticks if sign > 0 else bar.low_ticks
        if order.stop_ticks is None or sign * (extreme - order.stop_ticks) < 0:
            return NO_FILL
        order.triggered = True
        trigger = (
            max(bar.open_ticks, order.stop_ticks)
            if sign > 0
            else min(bar.open_ticks, order.stop_ticks)
        )
        if order.order_type is OrderType.STOP:
            price = trigger + sign * slippage_ticks(slippage, trigger, market)
            return lots, _clamp(price, market)
        limit = order.limit_ticks
        if limit is None or sign * (limit - trigger) < 0:
            return NO_FILL  # rests as a limit from the next bar on
        return lots, trigger
    if order.acts_as_market:
        price = bar.open_ticks + sign * slippage_ticks(slippage, bar.open_ticks, market)
        return lots, _clamp(price, market)
    limit = order.limit_ticks
    if limit is None:
        return NO_FILL
    if sign * (limit - bar.open_ticks) >= 0:
        return lots, bar.open_ticks
    favourable = bar.low_ticks if sign > 0 else bar.high_ticks
    through = sign * (limit - favourable)
    if through > 0:
        return lots, limit
    if through < 0:
        return NO_FILL
    at_level = int(bar.volume * touch_fraction)
    ahead = at_level if order.queue_ahead is None else order.queue_ahead
    order.queue_ahead = max(0, ahead - at_level)
    return min(lots, max(0, at_level - ahead)), limit
