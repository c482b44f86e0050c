"""The recovery procedure for a break (R7.5), shared by cold start and crash recovery.

Steps, each recorded in the journal as a ``Note`` (kind ``recovery_procedure``):

1. cancel every working order in the locked instruments, and wait for the answers;
2. take a fresh snapshot (positions and fills); unknown means stop, still locked;
3. compute the delta per contract: broker minus Bastion;
4. adopt it (R7.4, the broker is the truth for what is held): each broker fill Bastion
   lacks becomes a balance trade carrying its execution id, and what no fill explains
   becomes a balance trade of the remaining delta; then, if asked to ``restore``, send
   the correcting order (through the risk gate, path RECONCILE) that brings the
   position back to what Bastion held before;
5. confirm with a new snapshot and a reconciliation; only a clean result unlocks.

``wait`` is how the caller lets time pass between polls (advance a simulated clock, or
sleep against a real venue); every loop is bounded by ``max_rounds``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId, StrategyId
from bastion.domain.order_state import CANCELLABLE
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.domain.venue_events import FillReport
from bastion.oms.manager import OrderManager
from bastion.recon.balance import MANUAL_STRATEGY, balance_trade
from bastion.recon.breaks import ReconReport
from bastion.recon.reconciler import Reconciler
from bastion.risk.port import OrderPath, OrderRequest, RiskGate
from bastion.venues.port import FillsPage, PositionRecord, VenuePort

__all__ = ["ProcedureResult", "RecoveryProcedure"]


@dataclass(slots=True)
class ProcedureResult:
    steps: list[str] = field(default_factory=list)
    adopted: list[ClientOrderId] = field(default_factory=list)
    corrections: list[ClientOrderId] = field(default_factory=list)
    report: ReconReport | None = None

    @property
    def clean(self) -> bool:
        return self.report is not None and self.report.clean


@dataclass(slots=True)
class RecoveryProcedure:
    reconciler: Reconciler
    venue: VenuePort
    risk: RiskGate
    wait: Callable[[], None]
    strategy_id: StrategyId = MANUAL_STRATEGY
    max_rounds: int = 50

    def run(
        self, instruments: set[InstrumentId], note: str, *, restore: bool = False
    ) -> ProcedureResult:
        result = ProcedureResult()
        if not self._cancel_working(instruments, result):
            return result
        snapshot = self._snapshot(result)
        if snapshot is None:
            return result
        positions, fills = snapshot
        before = {
            c: q
            for (_, c), q in self.oms.book.positions.contract.items()
            if self._mine(c, instruments)
        }
        broker = {c: r.net for c, r in positions.items() if self._mine(c, instruments) and r.net}
        self._adopt(instruments, broker, fills, note, result)
        if restore and not self._restore(before, broker, result):
            return result
        report, _ = self.reconciler.run(self.venue)
        result.report = report
        left = [b for b in report.breaks if b.instrument_id in instruments and b.locks]
        self._step(
            result,
            "5. confirmed clean: unlocked" if report.clean else f"5. still {len(left)} break(s)",
        )
        return result

    # -- steps ------------------------------------------------------------------------
    @property
    def oms(self) -> OrderManager:
        return self.reconciler.oms

    @staticmethod
    def _mine(cid: ContractId, instruments: set[InstrumentId]) -> bool:
        return parse_contract_id(cid)[0] in instruments

    def _step(self, result: ProcedureResult, text: str) -> None:
        result.steps.append(text)
        self.oms.record(
            Note(timestamp=self.reconciler.clock.now(), kind="recovery_procedure", text=text)
        )

    def _pump(self) -> None:
        for event in self.venue.poll_events():
            self.oms.apply(event)

    def _cancel_working(self, instruments: set[InstrumentId], result: ProcedureResult) -> bool:
        book, now = self.oms.book, self.reconciler.clock.now()
        for order in list(book.broker_orders.values()):
            if self._mine(order.contract_id, instruments) and order.state in CANCELLABLE:
                self.oms.request_cancel(order.client_order_id, now)
                self.venue.cancel(order.client_order_id)
        for _ in range(self.max_rounds):
            self._pump()
            if not any(self._mine(o.contract_id, instruments) for o in book.broker_orders.values()):
                self._step(result, "1. no working orders left")
                return True
            self.wait()
        self._step(result, "1. cancels not confirmed: stopped, instruments stay locked")
        return False

    def _snapshot(
        self, result: ProcedureResult
    ) -> tuple[dict[ContractId, PositionRecord], FillsPage] | None:
        positions, fills = self.venue.positions(), self.venue.fills_since(None)
        if positions.value is None or fills.value is None:
            self._step(result, "2. snapshot unknown: stopped, instruments stay locked")
            return None
        for fill in fills.value.fills:  # our own fills whose reports were lost
            if self.oms.book.broker_order(fill.client_order_id) is not None:
                self.oms.apply(FillReport(fill=fill))
        self._step(
            result, f"2. snapshot: {len(positions.value)} positions, {len(fills.value.fills)} fills"
        )
        return positions.value, fills.value

    def _adopt(
        self,
        instruments: set[InstrumentId],
        broker: dict[ContractId, int],
        fills: FillsPage,
        note: str,
        result: ProcedureResult,
    ) -> None:
        book, now = self.oms.book, self.reconciler.clock.now()
        for fill in fills.fills:
            foreign = book.broker_order(fill.client_order_id) is None
            if (
                foreign
                and self._mine(fill.contract_id, instruments)
                and fill.exec_id not in book.exec_ids
            ):
                result.adopted.append(
                    balance_trade(
                        self.oms,
                        now,
                        fill.contract_id,
                        fill.signed_quantity,
                        price_ticks=fill.price_ticks,
                        note=f"{note} (broker execution {fill.exec_id}"
                        f" of order {fill.client_order_id})",
                        strategy_id=self.strategy_id,
                        exec_id=fill.exec_id,
                    )
                )
        held = {c for (_, c) in book.positions.contract if self._mine(c, instruments)}
        for cid in sorted(set(broker) | held):
            delta = broker.get(cid, 0) - book.positions.contract_position(cid)
            if delta:
                result.adopted.append(
                    balance_trade(
                        self.oms,
                        now,
                        cid,
                        delta,
                        price_ticks=0,
                        note=f"{note} (a difference no fill explains; the broker is the truth)",
                        strategy_id=self.strategy_id,
                    )
                )
        self._step(result, f"3-4. delta adopted in {len(result.adopted)} balance trade(s)")

    def _restore(
        self, before: dict[ContractId, int], broker: dict[ContractId, int], result: ProcedureResult
    ) -> bool:
        for cid in sorted(set(broker) | set(before)):
            delta = before.get(cid, 0) - broker.get(cid, 0)
            if not delta:
                continue
            coid = self._send_correction(cid, delta)
            if coid is None:
                self._step(result, f"4. correcting order for {cid} denied by risk: still locked")
                return False
            result.corrections.append(coid)
        for _ in range(self.max_rounds):
            self._pump()
            if not any(c in self.oms.book.broker_orders for c in result.corrections):
                break
            self.wait()
        self._step(result, f"4. {len(result.corrections)} correcting order(s) sent")
        return True

    def _send_correction(self, cid: ContractId, delta: int) -> ClientOrderId | None:
        """Write ahead and send one correcting order, through the risk gate (invariant 2)."""
        when: dt.datetime = self.reconciler.clock.now()
        coid = ClientOrderId(f"correct:{cid}@{when.isoformat()}")
        created = BrokerOrderCreated(
            timestamp=when,
            client_order_id=coid,
            contract_id=cid,
            side=Side.of(delta),
            quantity=abs(delta),
            order_type=OrderType.MARKET,
            strategy_id=self.strategy_id,
            venue=self.venue.name,
        )
        held = self.oms.book.positions.contract_position(cid)
        decision = self.risk.check(
            OrderRequest(
                order=created,
                path=OrderPath.RECONCILE,
                instrument_id=parse_contract_id(cid)[0],
                strategy_id=self.strategy_id,
                reduces_position=held * delta < 0 and abs(delta) <= abs(held),
            )
        )
        if not decision.allowed:
            return None
        order = self.oms.write_ahead(created)
        if self.venue.submit(order).taken:
            self.oms.mark_submitted(coid, when)
        return coid
