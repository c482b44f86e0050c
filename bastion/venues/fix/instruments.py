"""Contracts on the FIX wire: Symbol (55) is the instrument, MaturityMonthYear (200) the
expiry (``YYYYMM`` or ``YYYYMMDD``), so ``ES/202606`` travels as 55=ES, 200=202606.
Prices travel as decimals and are converted to ticks exactly (``ContractSpec``); a
price that is not on the tick is a bad field, never rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId

__all__ = ["ContractBook", "contract_fields"]


def contract_fields(contract_id: ContractId) -> list[tuple[int, str]]:
    instrument, _ = parse_contract_id(contract_id)
    return [(55, str(instrument)), (200, contract_id.split("/", 1)[1])]


class ContractBook:
    """The contracts one side knows, with their specs, for price conversion."""

    def __init__(self, specs: Mapping[ContractId, ContractSpec]) -> None:
        self.specs = dict(specs)

    def contract(self, symbol: str | None, maturity: str | None) -> ContractId | None:
        if not symbol or not maturity:
            return None
        cid = ContractId(f"{symbol}/{maturity}")
        return cid if cid in self.specs else None

    def price(self, contract_id: ContractId, ticks: int) -> str:
        return str(ticks * self.specs[contract_id].tick_size)

    def ticks(self, contract_id: ContractId, price: str) -> int:
        """Exact ticks of a decimal price; ``ValueError`` for anything that is not a
        finite decimal of at most 32 characters on the contract's tick."""
        try:
            value = Decimal(price) if len(price) <= 32 else Decimal("NaN")
        except ArithmeticError:
            raise ValueError(f"price {price[:32]!r} is not a number") from None
        if not value.is_finite():
            raise ValueError(f"price {price[:32]!r} is not a finite number")
        size = self.specs[contract_id].tick_size
        try:
            ticks, rest = divmod(value, size)
        except ArithmeticError:
            raise ValueError(f"price {price} is out of range") from None
        if rest:
            raise ValueError(f"price {price} is not on the {size} tick of {contract_id}")
        return int(ticks)
