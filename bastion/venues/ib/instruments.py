"""Contracts at IB: what to ask for, what IB answered, and the check against the spec.

Each contract the profile trades (``SP500/202406``) is asked for as an IB future: the
spec's symbol root (``ES``), the contract month, the spec's exchange and currency.
``check`` reads IB's contract details: none is an unknown contract; more than one is
ambiguous and every candidate is listed; one whose multiplier, minimum tick or currency
differs from the spec is a mismatch. Any of these refuses to trade the contract (its
orders are rejected with the reason) while the rest of the venue works.

Prices cross the boundary here: IB's floats become integer ticks (exactly, or rounded to
the nearest tick with a warning), and ticks become the decimal text IB is sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ib_async import Contract, ContractDetails

from bastion.domain.contracts import ContractSpec, OffTickError, Rounding, parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId

__all__ = ["ContractBook", "Qualified", "check_details", "describe"]

log = logging.getLogger("bastion.ib.instruments")


@dataclass(frozen=True, slots=True)
class Qualified:
    """A contract IB confirmed, with the id orders and reports use (``conId``)."""

    contract_id: ContractId
    con_id: int
    symbol: str
    last_trade: str
    exchange: str
    currency: str
    multiplier: str
    local_symbol: str
    trading_class: str

    def ib_contract(self) -> Contract:
        return Contract(
            secType="FUT",
            conId=self.con_id,
            symbol=self.symbol,
            lastTradeDateOrContractMonth=self.last_trade,
            exchange=self.exchange,
            currency=self.currency,
            multiplier=self.multiplier,
            localSymbol=self.local_symbol,
            tradingClass=self.trading_class,
        )


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None


def describe(details: ContractDetails) -> str:
    c = details.contract
    assert c is not None  # noqa: S101 - ib_async always builds one
    return (
        f"conId {c.conId} {c.symbol} {c.lastTradeDateOrContractMonth} {c.exchange}"
        f" x{c.multiplier} tick {_decimal(details.minTick)} {c.currency}"
        f" class {c.tradingClass or '-'}"
    )


def check_details(
    cid: ContractId, spec: ContractSpec, found: Sequence[ContractDetails]
) -> Qualified | str:
    """The qualified contract, or why Bastion will not trade it (one line)."""
    if not found:
        return f"{cid}: IB has no such contract (no security definition)"
    if len(found) > 1:
        listed = "; ".join(describe(d) for d in found)
        return (
            f"{cid}: ambiguous at IB, {len(found)} candidates: {listed}; pin it with the"
            " exchange or trading class"
        )
    details = found[0]
    c = details.contract
    assert c is not None  # noqa: S101 - ib_async always builds one
    problems = []
    multiplier = _decimal(c.multiplier or "")
    if multiplier != spec.multiplier:
        problems.append(f"multiplier {c.multiplier or '?'} (spec {spec.multiplier})")
    tick = _decimal(details.minTick)
    if tick != spec.tick_size:
        problems.append(f"minimum tick {tick} (spec {spec.tick_size})")
    if c.currency != spec.currency:
        problems.append(f"currency {c.currency or '?'} (spec {spec.currency})")
    _, expiry = parse_contract_id(cid)
    if not c.lastTradeDateOrContractMonth.startswith(expiry[:6]):
        problems.append(f"month {c.lastTradeDateOrContractMonth} (want {expiry[:6]})")
    if problems:
        return f"{cid}: IB's contract ({describe(details)}) does not match the spec: " + ", ".join(
            problems
        )
    return Qualified(
        contract_id=cid,
        con_id=c.conId,
        symbol=c.symbol,
        last_trade=c.lastTradeDateOrContractMonth,
        exchange=c.exchange,
        currency=c.currency,
        multiplier=c.multiplier,
        local_symbol=c.localSymbol,
        trading_class=c.tradingClass,
    )


class ContractBook:
    """The profile's contracts and what IB made of them (updated at every connection)."""

    def __init__(self, specs: dict[ContractId, ContractSpec]) -> None:
        self.specs = dict(specs)
        self._lock = threading.Lock()
        self._qualified: dict[ContractId, Qualified] = {}
        self._problems: dict[ContractId, str] = {}
        self._roots: dict[str, InstrumentId] = {}
        for cid, spec in self.specs.items():
            instrument, _ = parse_contract_id(cid)
            self._roots[spec.symbol_root or instrument] = instrument

    def symbol(self, cid: ContractId) -> str:
        instrument, _ = parse_contract_id(cid)
        return self.specs[cid].symbol_root or instrument

    def query(self, cid: ContractId) -> Contract:
        """What IB is asked for: a future by symbol, month, exchange and currency."""
        spec = self.specs[cid]
        _, expiry = parse_contract_id(cid)
        return Contract(
            secType="FUT",
            symbol=self.symbol(cid),
            lastTradeDateOrContractMonth=expiry,
            exchange=spec.exchange,
            currency=spec.currency,
        )

    def record(self, cid: ContractId, result: Qualified | str) -> None:
        with self._lock:
            if isinstance(result, Qualified):
                self._qualified[cid] = result
                self._problems.pop(cid, None)
            else:
                self._qualified.pop(cid, None)
                self._problems[cid] = result

    def qualified(self, cid: ContractId) -> Qualified | None:
        with self._lock:
            return self._qualified.get(cid)

    def problem(self, cid: ContractId) -> str | None:
        """Why the contract cannot be traded now, or ``None`` when it can."""
        if cid not in self.specs:
            return f"unknown contract {cid}: not in this profile's venue.contracts"
        with self._lock:
            if cid in self._qualified:
                return None
            return self._problems.get(cid, f"{cid}: not qualified at IB yet")

    @property
    def problems(self) -> dict[ContractId, str]:
        with self._lock:
            return dict(self._problems)

    def identify(self, contract: Contract | None) -> ContractId | None:
        """The Bastion contract an IB contract is: by conId, else by symbol and month."""
        if contract is None:
            return None
        with self._lock:
            for q in self._qualified.values():
                if contract.conId and q.con_id == contract.conId:
                    return q.contract_id
        instrument = self._roots.get(contract.symbol)
        month = contract.lastTradeDateOrContractMonth[:6]
        if instrument is None or contract.secType not in {"FUT", ""} or len(month) != 6:
            return None
        return ContractId(f"{instrument}/{month}")

    def ticks(self, cid: ContractId, price: float) -> int | None:
        """IB's price as ticks; off the tick it is rounded to the nearest and logged."""
        spec = self.specs.get(cid) or self._spec_by_instrument(cid)
        value = _decimal(price)
        if spec is None or value is None:
            return None
        try:
            return spec.to_ticks(value)
        except OffTickError:
            log.warning(
                "IB price %s for %s is off the tick %s: rounded", price, cid, spec.tick_size
            )
            return spec.round_to_ticks(value, Rounding.NEAREST)

    def price(self, cid: ContractId, ticks: int) -> float:
        """The float ib_async sends (its shortest repr is the exact decimal)."""
        return float(self.specs[cid].from_ticks(ticks))

    def _spec_by_instrument(self, cid: ContractId) -> ContractSpec | None:
        instrument, _ = parse_contract_id(cid)
        return next(
            (s for c, s in self.specs.items() if parse_contract_id(c)[0] == instrument), None
        )
