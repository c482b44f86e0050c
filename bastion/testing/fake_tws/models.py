"""What the fake TWS keeps: its contracts, orders and executions, as IB names them.

Prices on these records are exact decimals (the wire carries text); the broker behind
them matches in integer ticks (``bastion.venues.sim``), and converts at its edge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId

__all__ = ["FakeContract", "FakeExecution", "FakeOrder", "fake_contract"]


@dataclass(frozen=True, slots=True)
class FakeContract:
    """One futures contract the fake lists (what ``reqContractDetails`` returns)."""

    con_id: int
    symbol: str
    last_trade: str
    """IB's lastTradeDateOrContractMonth: the last trading day, ``YYYYMMDD``."""
    exchange: str
    currency: str
    multiplier: Decimal
    min_tick: Decimal
    local_symbol: str
    trading_class: str
    contract_id: ContractId
    """The id the matching engine behind the fake uses for it."""
    spec: ContractSpec
    sec_type: str = "FUT"

    def matches(self, query: dict[str, str]) -> bool:
        """Whether a ``reqContractDetails`` query (IB contract fields) names this one."""
        con_id = query.get("conId", "")
        if con_id not in {"", "0"}:
            return int(con_id) == self.con_id
        checks = [
            query.get("symbol", "") in {"", self.symbol},
            query.get("secType", "") in {"", self.sec_type},
            self.last_trade.startswith(query.get("lastTradeDateOrContractMonth", "")),
            query.get("exchange", "") in {"", "SMART", self.exchange},
            query.get("currency", "") in {"", self.currency},
            query.get("localSymbol", "") in {"", self.local_symbol},
            query.get("tradingClass", "") in {"", self.trading_class},
        ]
        multiplier = query.get("multiplier", "")
        if multiplier:
            checks.append(Decimal(multiplier) == self.multiplier)
        return all(checks)


def fake_contract(
    contract_id: ContractId,
    spec: ContractSpec,
    *,
    con_id: int,
    last_trade_day: str = "19",
    multiplier: Decimal | None = None,
    min_tick: Decimal | None = None,
    trading_class: str | None = None,
) -> FakeContract:
    """A listing for a Bastion contract id (``ES/202606``) with its spec's figures, unless
    ``multiplier``/``min_tick`` override them (a listing that disagrees with the spec)."""
    instrument, expiry = contract_id.split("/", 1)
    symbol = spec.symbol_root or instrument
    month = int(expiry[4:6])
    letter = "FGHJKMNQUVXZ"[month - 1]
    return FakeContract(
        con_id=con_id,
        symbol=symbol,
        last_trade=expiry[:6] + last_trade_day,
        exchange=spec.exchange,
        currency=spec.currency,
        multiplier=spec.multiplier if multiplier is None else multiplier,
        min_tick=spec.tick_size if min_tick is None else min_tick,
        local_symbol=f"{symbol}{letter}{expiry[3]}",
        trading_class=trading_class or symbol,
        contract_id=contract_id,
        spec=spec,
    )


@dataclass(slots=True)
class FakeOrder:
    """One order at the fake, keyed by (client id, order id); manual TWS orders have
    client id 0 and order id 0 and are found by their permId."""

    client_id: int
    order_id: int
    perm_id: int
    contract: FakeContract
    action: str
    """``BUY`` or ``SELL``."""
    quantity: int
    order_type: str
    """``MKT``, ``LMT``, ``STP`` or ``STP LMT``."""
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    good_till_date: str
    account: str
    order_ref: str
    engine_id: str
    """The order's id in the matching engine behind the fake."""
    status: str = "PendingSubmit"
    filled: int = 0
    value: Decimal = Decimal(0)
    """Sum of fill quantity times fill price, for the average price."""
    last_fill_price: Decimal = Decimal(0)
    completed_at: dt.datetime | None = None
    rejected_text: str = ""

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def average_price(self) -> Decimal:
        return self.value / self.filled if self.filled else Decimal(0)

    @property
    def working(self) -> bool:
        return self.status in {"PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel"}


@dataclass(slots=True)
class FakeExecution:
    exec_id: str
    order: FakeOrder
    time: dt.datetime
    side: str
    """``BOT`` or ``SLD``."""
    shares: int
    price: Decimal
    cum_qty: int
    avg_price: Decimal
    commission: Decimal
    currency: str
    extra: dict[str, str] = field(default_factory=dict)
