"""Where the reports read their facts: the profile's journal and its contract specs.

Reading never writes: a missing journal reads as no records (the report then says
there is nothing yet), and the store is closed before the report is built.
"""

from __future__ import annotations

from pathlib import Path

from bastion.config import Profile
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import InstrumentId
from bastion.domain.records import JournalRecord

__all__ = ["journal_records", "profile_specs"]


def journal_records(path: Path) -> list[JournalRecord]:
    """Every record of the journal at ``path`` in sequence order; [] if there is none."""
    if not Path(path).exists():
        return []
    from bastion.store import SqliteStore

    store = SqliteStore(Path(path))
    try:
        return [entry.record for entry in store.entries()]
    finally:
        store.close()


def profile_specs(profile: Profile) -> dict[InstrumentId, ContractSpec]:
    """The spec of every instrument the profile trades: its venue's contracts first,
    then the bundled registry for any instrument the venue did not list."""
    from bastion.marketdata.specs import SpecRegistry
    from bastion.venues.registry import profile_contracts

    specs: dict[InstrumentId, ContractSpec] = {}
    for cid, spec in profile_contracts(profile).items():
        specs.setdefault(parse_contract_id(cid)[0], spec)
    registry = SpecRegistry.bundled()
    known = set(registry)
    for iid in profile.instruments:
        if InstrumentId(iid) not in specs and iid in known:
            specs[InstrumentId(iid)] = registry[iid].contract
    return specs
