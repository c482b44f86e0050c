"""Balance trades (R4.6): take a trade made outside Bastion into the book, with a note.

A balance trade is journaled as a filled broker order of venue ``balance``:
``BrokerOrderCreated`` + ``Note`` (the operator's audit text) + ``FillRecorded`` +
``OrderTransition`` to FILLED, in one write. When it adopts a fill the broker reported
(a manual trade at the broker), it carries that fill's execution id, so the fills view
matches the broker's and a replay cannot adopt the same execution twice: the client
order id is derived from the execution id, and a second attempt is refused.
"""

from __future__ import annotations

import datetime as dt

from bastion.domain.book import Book
from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import OrderType, Side
from bastion.domain.fills import Fill
from bastion.domain.ids import (
    UNATTRIBUTED,
    ClientOrderId,
    ContractId,
    ExecId,
    InstrumentId,
    StrategyId,
)
from bastion.domain.order_state import OrderEvent, OrderState
from bastion.domain.records import (
    Allocation,
    BrokerOrderCreated,
    FillRecorded,
    JournalRecord,
    Note,
    OrderTransition,
)
from bastion.errors import UserError
from bastion.oms.manager import OrderManager
from bastion.recon.views import BALANCE_VENUE

__all__ = ["MANUAL_STRATEGY", "balance_trade", "transfer_records"]

MANUAL_STRATEGY = StrategyId("manual")
"""The strategy that owns trades made by hand when the operator names no other."""


def balance_trade(
    oms: OrderManager,
    when: dt.datetime,
    contract_id: ContractId,
    quantity: int,
    *,
    price_ticks: int,
    note: str,
    strategy_id: StrategyId = MANUAL_STRATEGY,
    exec_id: ExecId | None = None,
) -> ClientOrderId:
    """Record ``quantity`` (signed lots) of ``contract_id`` traded outside Bastion."""
    if quantity == 0:
        raise UserError("balance trade: the quantity must not be zero")
    if not note.strip():
        raise UserError("balance trade: an audit note is required")
    parse_contract_id(contract_id)
    stamp = exec_id if exec_id is not None else f"{contract_id}@{when.isoformat()}"
    coid = ClientOrderId(f"balance:{stamp}")
    if oms.book.broker_order(coid) is not None:
        raise UserError(f"balance trade {coid} was already recorded")
    if exec_id is not None and exec_id in oms.book.exec_ids:
        raise UserError(f"execution {exec_id} is already in the book")
    side = Side.of(quantity)
    oms.record(
        BrokerOrderCreated(
            timestamp=when,
            client_order_id=coid,
            contract_id=contract_id,
            side=side,
            quantity=abs(quantity),
            order_type=OrderType.MARKET,
            strategy_id=strategy_id,
            venue=BALANCE_VENUE,
        ),
        Note(
            timestamp=when,
            kind="balance_trade",
            text=note,
            data={
                "client_order_id": coid,
                "contract_id": contract_id,
                "quantity": str(quantity),
                "strategy_id": strategy_id,
                "exec_id": exec_id or "",
            },
        ),
        FillRecorded(
            timestamp=when,
            fill=Fill(
                exec_id=exec_id if exec_id is not None else ExecId(f"{coid}:x"),
                client_order_id=coid,
                contract_id=contract_id,
                side=side,
                quantity=abs(quantity),
                price_ticks=price_ticks,
                timestamp=when,
            ),
            strategy_id=strategy_id,
        ),
        OrderTransition(
            timestamp=when,
            client_order_id=coid,
            event=OrderEvent.FINAL_FILL,
            state=OrderState.FILLED,
        ),
    )
    return coid


def transfer_records(
    book: Book,
    instrument_id: InstrumentId,
    held: int,
    strategy_id: StrategyId,
    *,
    note: str,
    now: dt.datetime,
) -> list[JournalRecord]:
    """The records that give ``held`` signed lots of ``instrument_id`` from the reserved
    ``UNATTRIBUTED`` strategy to ``strategy_id`` (to be written in one step). What the
    strategy still had working on that side (an intent the lost orders carried out,
    after a restore) is filled by it first, so the intent is never sent again."""
    records: list[JournalRecord] = [
        Allocation(
            timestamp=now,
            strategy_id=UNATTRIBUTED,
            instrument_id=instrument_id,
            signed_quantity=-held,
            note=f"adopted by {strategy_id}: {note}",
        )
    ]
    left = abs(held)
    for order in list(book.instrument_orders.values()):
        if (
            left
            and order.strategy_id == strategy_id
            and order.instrument_id == instrument_id
            and order.side.sign * held > 0
            and order.remaining > 0
        ):
            take = min(left, order.remaining)
            left -= take
            records.append(
                Allocation(
                    timestamp=now,
                    strategy_id=strategy_id,
                    instrument_id=instrument_id,
                    signed_quantity=take * order.side.sign,
                    instrument_order_id=order.order_id,
                    note=f"adopted from {UNATTRIBUTED}, filling {order.order_id}: {note}",
                )
            )
    if left:
        records.append(
            Allocation(
                timestamp=now,
                strategy_id=strategy_id,
                instrument_id=instrument_id,
                signed_quantity=left * (1 if held > 0 else -1),
                note=f"adopted from {UNATTRIBUTED}: {note}",
            )
        )
    return records
