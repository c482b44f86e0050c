"""Pre-trade checks (R6.2) as pure functions: each returns ``None`` (pass) or a denial
with a typed reason, the check's name and a sentence for a person.

Exposure is counted as the *worst case* of the position and its working orders: if
every working buy filled, or every working sell did. A check refuses an order that
would push that worst case beyond a limit *and* further than it already is, so an order
that only reduces exposure always passes a size limit, even after a limit was lowered.
Because any set of fills leaves the position inside [position - sells, position + buys],
no sequence of orders that passed can leave a position beyond its limit.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag, Side
from bastion.domain.market import MarketQuote, daily_band
from bastion.domain.orders import validate_order_shape
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated
from bastion.risk.port import RiskDecision

__all__ = [
    "Check",
    "Exposure",
    "check_band",
    "check_infeasible",
    "check_margin",
    "check_notional",
    "check_order_size",
    "check_position",
    "check_price_distance",
    "price_band_ticks",
    "reduces",
    "worst_case",
]

_CLOSES = (OffsetFlag.CLOSE, OffsetFlag.CLOSE_TODAY, OffsetFlag.CLOSE_YESTERDAY)


class Check(StrEnum):
    LIMITS = "limits"
    CONTRACT = "contract"
    INFEASIBLE = "infeasible"
    KILL_ONLY_REDUCES = "kill_only_reduces"
    TRADING_STATE = "trading_state"
    RISK_LEVEL = "risk_level"
    MARKET_GUARD = "market_guard"
    ORDER_SIZE = "order_size"
    POSITION = "position_limit"
    STRATEGY_POSITION = "strategy_position_limit"
    NOTIONAL = "max_notional"
    PRICE_DISTANCE = "price_distance"
    PRICE_BAND = "price_band"
    MARGIN = "margin"
    ORDER_RATE = "order_rate"
    FX_RATE = "fx_rate"
    EQUITY = "equity"
    EXPIRY = "expiry"
    CALENDAR = "calendar"


class Exposure:
    """A position and the quantities of its working orders, in lots."""

    __slots__ = ("buying", "position", "selling")

    def __init__(self, position: int = 0, buying: int = 0, selling: int = 0) -> None:
        self.position = position
        self.buying = buying
        self.selling = selling

    def worst(self) -> int:
        return worst_case(self.position, self.buying, self.selling)

    def worst_with(self, side: Side, quantity: int) -> int:
        if side is Side.BUY:
            return worst_case(self.position, self.buying + quantity, self.selling)
        return worst_case(self.position, self.buying, self.selling + quantity)

    def __repr__(self) -> str:
        return f"Exposure({self.position}, +{self.buying}, -{self.selling})"


def worst_case(position: int, buying: int, selling: int) -> int:
    return max(abs(position + buying), abs(position - selling))


def reduces(order: BrokerOrderCreated, contract: Exposure) -> bool:
    """Whether the order can only reduce the contract's position, even if every working
    order on the same side fills first."""
    if order.side is Side.SELL:
        return contract.position > 0 and order.quantity + contract.selling <= contract.position
    return contract.position < 0 and order.quantity + contract.buying <= -contract.position


def _price_fields(order: BrokerOrderCreated) -> list[tuple[str, int]]:
    return [
        (label, ticks)
        for label, ticks in (("limit", order.limit_ticks), ("stop", order.stop_ticks))
        if ticks is not None
    ]


def check_infeasible(
    order: BrokerOrderCreated, contract: Exposure, *, claims_reduce: bool
) -> RiskDecision | None:
    """Orders that cannot be right: bad shape, a price at or below the minimum tick,
    a close of more than is held, a 'reducing' order that would not reduce."""
    cid = order.contract_id
    if order.quantity <= 0:
        return RiskDecision.deny(
            Reason.INVALID_ORDER,
            Check.INFEASIBLE,
            f"order {order.client_order_id} ({cid}): quantity {order.quantity} must be at"
            " least one lot",
        )
    problem = validate_order_shape(
        order.order_type, order.limit_ticks, order.stop_ticks, order.time_in_force, order.expire_at
    )
    if problem is not None:
        return RiskDecision.deny(
            Reason.INVALID_ORDER,
            Check.INFEASIBLE,
            f"order {order.client_order_id} ({cid}): {problem}",
        )
    for label, ticks in _price_fields(order):
        if ticks <= 1:
            return RiskDecision.deny(
                Reason.INVALID_ORDER,
                Check.INFEASIBLE,
                f"{order.side} {order.quantity} {cid}: {label} price {ticks} ticks is at or"
                " below the minimum tick; such an order can never be a sane fill",
            )
    if order.offset in _CLOSES:
        held = max(contract.position, 0) if order.side is Side.SELL else max(-contract.position, 0)
        pending = contract.selling if order.side is Side.SELL else contract.buying
        if order.quantity > held - pending:
            return RiskDecision.deny(
                Reason.INVALID_ORDER,
                Check.INFEASIBLE,
                f"{order.side} {order.quantity} {cid} to close: only {max(held - pending, 0)}"
                f" lots can be closed ({held} held, {pending} already closing)",
            )
    if claims_reduce and not reduces(order, contract):
        return RiskDecision.deny(
            Reason.INVALID_ORDER,
            Check.INFEASIBLE,
            f"{order.side} {order.quantity} {cid} is marked as reducing, but the position is"
            f" {contract.position} with {contract.buying} buying and {contract.selling} selling:"
            " it would close more than is held",
        )
    return None


def check_order_size(order: BrokerOrderCreated, max_lots: int) -> RiskDecision | None:
    if order.quantity <= max_lots:
        return None
    return RiskDecision.deny(
        Reason.RISK_LIMIT,
        Check.ORDER_SIZE,
        f"{order.side} {order.quantity} {order.contract_id}: the order is larger than the"
        f" maximum order size of {max_lots} lots",
    )


def check_position(
    order: BrokerOrderCreated, exposure: Exposure, limit: int, *, what: str, check: Check
) -> RiskDecision | None:
    """Refuse if the worst case after the order exceeds ``limit`` and grows."""
    before, after = exposure.worst(), exposure.worst_with(order.side, order.quantity)
    if after <= limit or after <= before:
        return None
    return RiskDecision.deny(
        Reason.POSITION_LIMIT,
        check,
        f"{order.side} {order.quantity} {order.contract_id}: {what} could reach {after} lots"
        f" (position {exposure.position}, working +{exposure.buying}/-{exposure.selling}),"
        f" above its limit of {limit}",
    )


def check_notional(
    order: BrokerOrderCreated,
    spec: ContractSpec,
    price_ticks: int | None,
    max_notional: Decimal,
    *,
    rate: Decimal | None = Decimal(1),
    base: str = "",
) -> RiskDecision | None:
    """The order's notional in the base currency (its own currency's notional times
    ``rate``) against ``max_notional``. ``rate`` ``None`` (no usable rate: only a
    reducing order gets this far) passes: a reduction adds no exposure to value."""
    if rate is None:
        return None
    if price_ticks is None:
        return RiskDecision.deny(
            Reason.RISK_LIMIT,
            Check.NOTIONAL,
            f"{order.side} {order.quantity} {order.contract_id}: no price to value the order"
            " (no limit price and no last or mid price); refused until prices arrive",
        )
    own = spec.notional(price_ticks, order.quantity)
    notional = own * rate
    if notional <= max_notional:
        return None
    converted = f" ({notional:.2f} {base})" if base and base != spec.currency else ""
    return RiskDecision.deny(
        Reason.RISK_LIMIT,
        Check.NOTIONAL,
        f"{order.side} {order.quantity} {order.contract_id}: notional {own}"
        f" {spec.currency}{converted} is above the maximum of {max_notional} {base}".rstrip(),
    )


def _price(ticks: int, spec: ContractSpec | None) -> str:
    """A price as a person reads it (price units); labelled ticks without a spec."""
    return spec.price_text(ticks) if spec is not None else f"{ticks} ticks"


def price_band_ticks(
    quote: MarketQuote,
    tolerance_percent: Decimal,
    tolerance_ticks: int | None,
    spec: ContractSpec | None = None,
) -> tuple[int, int, str] | None:
    """The price-sanity band around the market: (reference, allowed distance in ticks,
    which band applies). The reference is the last price (else the mid); the band is
    ``tolerance_percent`` % of the last price (else the mid), truncated to whole ticks,
    or ``tolerance_ticks`` when set and tighter. ``None``: no price to centre it on."""
    reference = quote.reference_ticks
    base = quote.last_ticks if quote.last_ticks is not None else reference
    if reference is None or base is None:
        return None
    by_percent = int(abs(base) * tolerance_percent / 100)
    if tolerance_ticks is not None and tolerance_ticks <= by_percent:
        return reference, tolerance_ticks, "the tick band"
    return (
        reference,
        by_percent,
        f"{tolerance_percent}% of the last price {_price(base, spec)}",
    )


def check_price_distance(
    order: BrokerOrderCreated,
    quote: MarketQuote | None,
    tolerance_percent: Decimal,
    tolerance_ticks: int | None = None,
    spec: ContractSpec | None = None,
) -> RiskDecision | None:
    """A limit or stop price inside the price-sanity band (``price_band_ticks``) around
    the mid (else the last price): the tighter of the percent and the tick band. Prices
    read in price units (``spec``); the distance also in ticks, the band's unit."""
    prices = _price_fields(order)
    if not prices:
        return None
    band = (
        None if quote is None else price_band_ticks(quote, tolerance_percent, tolerance_ticks, spec)
    )
    if band is None:
        return RiskDecision.deny(
            Reason.RISK_LIMIT,
            Check.PRICE_DISTANCE,
            f"{order.contract_id}: no last or mid price to check the order's price against",
        )
    reference, allowed, which = band
    for label, ticks in prices:
        distance = abs(ticks - reference)
        if distance > allowed:
            return RiskDecision.deny(
                Reason.RISK_LIMIT,
                Check.PRICE_DISTANCE,
                f"{order.side} {order.quantity} {order.contract_id}: {label} price"
                f" {_price(ticks, spec)} is {distance} ticks from the market"
                f" {_price(reference, spec)}; at most {allowed} ticks allowed ({which})",
            )
    return None


def check_band(
    order: BrokerOrderCreated, quote: MarketQuote | None, spec: ContractSpec
) -> RiskDecision | None:
    band = None if quote is None else daily_band(quote, spec)
    if band is None:
        return None
    low, high = band
    for label, ticks in _price_fields(order):
        if not low <= ticks <= high:
            return RiskDecision.deny(
                Reason.PRICE_OUTSIDE_BAND,
                Check.PRICE_BAND,
                f"{order.side} {order.quantity} {order.contract_id}: {label} price"
                f" {_price(ticks, spec)} is outside the daily price band"
                f" [{_price(low, spec)}, {_price(high, spec)}]",
            )
    return None


def check_margin(
    order: BrokerOrderCreated,
    before: Decimal | None,
    after: Decimal | None,
    equity: Decimal | None,
    high_mark: Decimal,
) -> RiskDecision | None:
    """Margin of the worst case of every position and working order, with this order,
    against ``high_mark`` of equity. An order that adds no margin passes."""
    label = f"{order.side} {order.quantity} {order.contract_id}"
    if before is None or after is None:
        return RiskDecision.deny(
            Reason.INSUFFICIENT_MARGIN,
            Check.MARGIN,
            f"{label}: margin cannot be computed (a held contract has no price, or no rate"
            " to the account's currency)",
        )
    if after <= before:
        return None
    if equity is None:
        return RiskDecision.deny(
            Reason.INSUFFICIENT_MARGIN,
            Check.MARGIN,
            f"{label}: account equity is unknown (no account snapshot yet); no new exposure",
        )
    allowed = equity * high_mark
    if after <= allowed:
        return None
    return RiskDecision.deny(
        Reason.INSUFFICIENT_MARGIN,
        Check.MARGIN,
        f"{label}: margin would be {after:.2f}, above {high_mark:%} of equity {equity:.2f}"
        f" ({allowed:.2f})",
    )
