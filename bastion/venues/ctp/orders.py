"""Bastion's orders as CTP legs, and the identities that map CTP's reports back.

One Bastion order (``ClientOrderId``) is one or more CTP orders (legs: open, close-today,
close-yesterday; ``offsets``). Each leg has CTP's identity as CTP gives it:

- (FrontID, SessionID, OrderRef) from the moment it is sent; a reconnect gives a new
  SessionID, and old legs keep their old triple;
- (ExchangeID, OrderSysID) once the exchange accepted it, kept byte for byte (some
  exchanges pad it with spaces). Trades carry only this one, so they map through it.

``OrderMap`` keeps these identities in a file beside the journal, one JSON line per fact,
written before the request leaves (and again when the OrderSysID is learnt). Any session
of the same trading day (a restart, the smoke order's own session) reads it, so a report
of Bastion's order from an earlier session, replayed by RESTART, maps back; only what
maps to no Bastion order is foreign.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.domain.enums import OffsetFlag, OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, VenueOrderId
from bastion.domain.reasons import Reason

__all__ = ["ClientState", "LegState", "OrderMap", "Triple", "sys_key", "venue_id_of"]

log = logging.getLogger("bastion.ctp.orders")

Triple = tuple[int, int, str]
"""(FrontID, SessionID, OrderRef): a leg's id before the exchange accepts it."""
SysKey = tuple[str, str]
"""(ExchangeID, OrderSysID exactly as sent): a leg's id after acceptance."""


def sys_key(exchange_id: str, order_sys_id: str) -> SysKey:
    return (exchange_id, order_sys_id)


def venue_id_of(exchange_id: str, order_sys_id: str) -> VenueOrderId:
    """The venue order id Bastion journals: ``EXCHANGE:OrderSysID`` (padding kept)."""
    return VenueOrderId(f"{exchange_id}:{order_sys_id}")


def provisional_id(triple: Triple) -> VenueOrderId:
    return VenueOrderId(f"{triple[0]}:{triple[1]}:{triple[2]}")


@dataclass(slots=True)
class LegState:
    client_order_id: ClientOrderId
    contract_id: ContractId
    instrument_id: str
    exchange_id: str
    side: Side
    offset: OffsetFlag
    quantity: int
    triple: Triple
    current_session: bool
    """Sent by this connection: its trades move the books kept for offsets."""
    order_sys_id: str | None = None
    status: str = ""
    traded: int = 0
    """Lots traded, as the trades reported them."""
    done: bool = False
    rejected: bool = False
    reason: Reason | None = None
    message: str = ""
    frozen: list[tuple[str, int]] = field(default_factory=list)
    """Closable lots this working close holds back, by bucket."""


@dataclass(slots=True)
class ClientState:
    client_order_id: ClientOrderId
    contract_id: ContractId
    side: Side
    quantity: int
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_ticks: int | None = None
    legs: list[LegState] = field(default_factory=list)
    acked: bool = False
    venue_order_id: VenueOrderId | None = None
    filled: int = 0
    cancel_requested: bool = False
    cancel_refused: bool = False
    finished: str = ""
    """``filled``, ``canceled``, ``rejected`` or ``expired`` once every leg is done."""
    replacement: Any = None
    """A modify waiting for this order's cancel (the replacing ``BrokerOrder``)."""

    @property
    def working(self) -> bool:
        return not self.finished and any(not leg.done for leg in self.legs)


class OrderMap:
    """Identities of Bastion's CTP legs for one trading day, in a JSON-lines file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[dict[str, Any]] = []

    def append(self, fact: dict[str, Any]) -> None:
        """Write one fact before the request it describes leaves (one ``write`` each,
        appended: lines from several processes do not interleave)."""
        self._memory.append(fact)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(fact, separators=(",", ":"), sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def facts(self, trading_day: str) -> list[dict[str, Any]]:
        """Every fact of ``trading_day`` (in memory, or read back from the file)."""
        if self.path is None:
            return [f for f in self._memory if f.get("day") == trading_day]
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("CTP order map %s cannot be read: %s", self.path, exc)  # noqa: TRY400 - one line says it all
            return []
        out = []
        for number, line in enumerate(lines, 1):
            try:
                fact = json.loads(line)
            except ValueError:
                log.error("CTP order map %s line %d: not JSON, skipped", self.path, number)  # noqa: TRY400
                continue
            if isinstance(fact, dict) and fact.get("day") == trading_day:
                out.append(fact)
        return out
