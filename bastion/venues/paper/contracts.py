"""The contracts the paper venue lists by default, shared with the engine's profile."""

from __future__ import annotations

from decimal import Decimal

from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ContractId, InstrumentId

__all__ = ["DEFAULT_CONTRACTS", "START_PRICES"]


def _spec(instrument: str, tick: str, multiplier: str) -> ContractSpec:
    return ContractSpec(
        instrument_id=InstrumentId(instrument),
        exchange="PAPER",
        currency="USD",
        tick_size=Decimal(tick),
        multiplier=Decimal(multiplier),
        margin_rate=Decimal("0.1"),
    )


def _bundled(instrument: str) -> ContractSpec:
    from bastion.marketdata.specs import SpecRegistry

    return SpecRegistry.bundled()[instrument].contract


DEFAULT_CONTRACTS: dict[ContractId, ContractSpec] = {
    ContractId("ES/202606"): _spec("ES", "0.25", "50"),
    ContractId("NQ/202606"): _spec("NQ", "0.25", "20"),
    # The bundled sample data's current S&P 500 contract at its last day (2024-04-30),
    # with the bundled CME spec: the operator's day runs shadow -> gate -> session on
    # the sample data against this venue.
    ContractId("SP500/202406"): _bundled("SP500"),
}
START_PRICES: dict[ContractId, int] = {
    ContractId("ES/202606"): 16000,
    ContractId("NQ/202606"): 72000,
    ContractId("SP500/202406"): 21684,
}
"""Start mid prices in ticks (ES 4000.00, NQ 18000.00, SP500 5421.00: the sample's last
close)."""
