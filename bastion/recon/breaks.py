"""Three-view reconciliation as pure functions (R7.1, R7.2).

The three views of what is held:

1. **targets**: what each strategy wants per instrument;
2. **the book**: Bastion's positions, folded from the fills it processed (strategy
   table and contract table);
3. **the venue snapshot**: the broker's positions and fills.

``reconcile(views)`` compares them and returns every break, in four kinds:

- ``TARGET_VS_ACTUAL``: a strategy's position plus its working orders is further from
  its target than the buffer allows;
- ``STRATEGY_VS_CONTRACT``: an instrument's strategy positions do not sum to its
  contract positions;
- ``CONTRACT_VS_BROKER``: Bastion's position in a contract is not the broker's;
- ``FILLS_VS_BROKER``: a fill the broker has that Bastion has not (a manual trade, a
  lost report), or one Bastion has that the broker has not.

Invariants (tested):
- a view that is unknown (a failed query) produces no "all clear": the report says it
  is incomplete, and nothing built on the missing view is called clean (STYLE.md 5);
- the result depends only on the views (no clock, no I/O), so cold start, crash
  recovery, the periodic check and ``bastion reconcile`` all agree;
- breaks are sorted, so two runs over the same views print the same diff.

Which kinds lock an instrument: the last three. A target-vs-actual gap is what trading
closes; locking on it would stop the very orders that clear it, so it is reported and
alerted, not locked (see ``Break.locks``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import Side
from bastion.domain.fills import Fill
from bastion.domain.ids import ClientOrderId, ContractId, ExecId, InstrumentId, StrategyId

__all__ = ["Break", "BreakKind", "FillFact", "ReconReport", "Views", "reconcile"]


class BreakKind(StrEnum):
    TARGET_VS_ACTUAL = "target_vs_actual"
    STRATEGY_VS_CONTRACT = "strategy_vs_contract"
    CONTRACT_VS_BROKER = "contract_vs_broker"
    FILLS_VS_BROKER = "fills_vs_broker"


_LOCKING = frozenset(
    {BreakKind.STRATEGY_VS_CONTRACT, BreakKind.CONTRACT_VS_BROKER, BreakKind.FILLS_VS_BROKER}
)


@dataclass(frozen=True, slots=True, order=True)
class Break:
    instrument_id: InstrumentId
    kind: BreakKind
    key: str
    """What is compared: a contract id, ``strategy/instrument``, or an execution id."""
    ours: int
    """Bastion's figure (lots); for a fill break, the signed lots Bastion has of it."""
    theirs: int
    """The other view's figure: the target, the contract sum, or the broker's."""
    detail: str = field(default="", compare=False)

    @property
    def locks(self) -> bool:
        """Whether this break locks its instrument (R7.3); see the module docstring."""
        return self.kind in _LOCKING

    def line(self) -> str:
        return (
            f"{self.kind:<21} {self.instrument_id:<8} {self.key:<28}"
            f" bastion={self.ours:>+5} other={self.theirs:>+5}  {self.detail}"
        ).rstrip()


@dataclass(frozen=True, slots=True)
class FillFact:
    """What reconciliation needs to know of one fill."""

    contract_id: ContractId
    side: Side
    quantity: int
    client_order_id: ClientOrderId

    @classmethod
    def of(cls, fill: Fill) -> FillFact:
        return cls(fill.contract_id, fill.side, fill.quantity, fill.client_order_id)

    @property
    def signed_quantity(self) -> int:
        return self.quantity * self.side.sign


@dataclass(frozen=True, slots=True)
class Views:
    """Everything reconciliation compares. ``None`` means the view is unknown."""

    targets: Mapping[tuple[StrategyId, InstrumentId], tuple[int, int]]
    """Each strategy's target range (low, high) per instrument (a point target: low == high)."""
    strategy_positions: Mapping[tuple[StrategyId, InstrumentId], int]
    contract_positions: Mapping[ContractId, int]
    working: Mapping[tuple[StrategyId, InstrumentId], int] = field(default_factory=dict)
    """Signed unfilled quantity of working orders, per strategy and instrument."""
    broker_positions: Mapping[ContractId, int] | None = None
    bastion_fills: Mapping[ExecId, FillFact] = field(default_factory=dict)
    """Fills Bastion applied that came from this venue (balance trades excluded)."""
    broker_fills: Mapping[ExecId, FillFact] | None = None
    adopted_exec_ids: frozenset[ExecId] = frozenset()
    """Broker executions Bastion took in through balance trades (R4.6)."""
    target_buffer: int = 0
    """How far (lots) position plus working may be from target before it is a break."""


@dataclass(frozen=True, slots=True)
class ReconReport:
    breaks: tuple[Break, ...]
    unknown: tuple[str, ...]
    """Views that could not be compared because a query was unknown."""

    @property
    def clean(self) -> bool:
        """No break and nothing unknown: the only state in which trading may resume."""
        return not self.breaks and not self.unknown

    @property
    def locked_instruments(self) -> frozenset[InstrumentId]:
        return frozenset(b.instrument_id for b in self.breaks if b.locks)

    def by_kind(self, kind: BreakKind) -> list[Break]:
        return [b for b in self.breaks if b.kind is kind]


def _instrument(contract_id: ContractId) -> InstrumentId:
    return parse_contract_id(contract_id)[0]


def _target_breaks(views: Views) -> list[Break]:
    out: list[Break] = []
    for (sid, iid), (low, high) in sorted(views.targets.items()):
        held = views.strategy_positions.get((sid, iid), 0)
        working = views.working.get((sid, iid), 0)
        expected = held + working
        gap = max(low - expected, expected - high, 0)
        if gap > views.target_buffer:
            nearest = low if expected < low else high
            out.append(
                Break(
                    iid,
                    BreakKind.TARGET_VS_ACTUAL,
                    f"{sid}/{iid}",
                    expected,
                    nearest,
                    f"held {held:+d}, working {working:+d}, target [{low:+d}, {high:+d}]",
                )
            )
    return out


def _strategy_vs_contract(views: Views) -> list[Break]:
    strategies: dict[InstrumentId, int] = {}
    for (_, iid), qty in views.strategy_positions.items():
        strategies[iid] = strategies.get(iid, 0) + qty
    contracts: dict[InstrumentId, int] = {}
    for cid, qty in views.contract_positions.items():
        iid = _instrument(cid)
        contracts[iid] = contracts.get(iid, 0) + qty
    out: list[Break] = []
    for iid in sorted(set(strategies) | set(contracts)):
        s, c = strategies.get(iid, 0), contracts.get(iid, 0)
        if s != c:
            out.append(
                Break(
                    iid,
                    BreakKind.STRATEGY_VS_CONTRACT,
                    str(iid),
                    s,
                    c,
                    "strategy positions do not sum to the contract positions",
                )
            )
    return out


def _contract_vs_broker(views: Views, broker: Mapping[ContractId, int]) -> list[Break]:
    out: list[Break] = []
    for cid in sorted(set(views.contract_positions) | set(broker)):
        ours, theirs = views.contract_positions.get(cid, 0), broker.get(cid, 0)
        if ours != theirs:
            detail = "the broker is flat" if theirs == 0 else "positions differ"
            out.append(
                Break(
                    _instrument(cid), BreakKind.CONTRACT_VS_BROKER, str(cid), ours, theirs, detail
                )
            )
    return out


def _fills_vs_broker(views: Views, broker: Mapping[ExecId, FillFact]) -> list[Break]:
    out: list[Break] = []
    for exec_id in sorted(set(broker) - set(views.bastion_fills) - views.adopted_exec_ids):
        fill = broker[exec_id]
        out.append(
            Break(
                _instrument(fill.contract_id),
                BreakKind.FILLS_VS_BROKER,
                str(exec_id),
                0,
                fill.signed_quantity,
                f"broker fill {fill.side} {fill.quantity} {fill.contract_id}"
                f" of order {fill.client_order_id} is not in Bastion",
            )
        )
    for exec_id in sorted(set(views.bastion_fills) - set(broker)):
        fill = views.bastion_fills[exec_id]
        out.append(
            Break(
                _instrument(fill.contract_id),
                BreakKind.FILLS_VS_BROKER,
                str(exec_id),
                fill.signed_quantity,
                0,
                f"Bastion fill of order {fill.client_order_id} is unknown to the broker",
            )
        )
    return out


def reconcile(views: Views) -> ReconReport:
    """Compare the three views; every break, sorted, and the views that were unknown."""
    breaks = _target_breaks(views) + _strategy_vs_contract(views)
    unknown: list[str] = []
    if views.broker_positions is None:
        unknown.append("broker positions")
    else:
        breaks += _contract_vs_broker(views, views.broker_positions)
    if views.broker_fills is None:
        unknown.append("broker fills")
    else:
        breaks += _fills_vs_broker(views, views.broker_fills)
    return ReconReport(tuple(sorted(breaks)), tuple(unknown))
