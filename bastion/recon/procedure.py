"""The recovery procedure for a break (R7.5), shared by cold start and crash recovery.

Steps, each recorded in the journal as a ``Note`` (kind ``recovery_procedure``):

1. cancel every working order in the locked instruments, and wait for the answers;
2. take a fresh snapshot (positions and fills); unknown means stop, still locked;
3. compute the delta per contract: broker minus Bastion;
4. take the broker's position in (R7.4, the broker is the truth for what is held): each
   broker fill Bastion lacks becomes a balance trade carrying its execution id, and what
   no fill explains a balance trade of the remaining delta, both held by the reserved
   ``UNATTRIBUTED`` strategy (where surprises already are). Then either
   - **adopt**: the unattributed position becomes the named strategy's (``manual`` by
     default), by a journaled transfer; or
   - **restore**: a correcting order (path RECONCILE, the one send path) trades the
     unattributed position away, so the venue holds again what the strategies hold;
5. confirm with a new snapshot and a reconciliation; only a clean result unlocks,
   including a lock an anomaly (an overfill, a foreign fill) set; each such unlock is
   also journaled as a ``lock`` note, which alerts "instrument unlocked".

It is an operator's procedure, run by a driver outside the engine loop: ``drain``
applies the venue's events through the engine (so fills reach every listener), and
``wait`` lets time pass between polls (advance a simulated clock, or sleep against a
real venue); every loop is bounded by ``max_rounds``. Cancels and correcting orders go
through the one send path (``OrderSender``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.domain.contracts import parse_contract_id
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import UNATTRIBUTED, ClientOrderId, ContractId, InstrumentId, StrategyId
from bastion.domain.order_state import CANCELLABLE
from bastion.domain.records import BrokerOrderCreated, Note
from bastion.domain.venue_events import FillReport
from bastion.oms.manager import OrderManager
from bastion.oms.sending import OrderSender
from bastion.recon.balance import MANUAL_STRATEGY, balance_trade, transfer_records
from bastion.recon.breaks import ReconReport
from bastion.recon.locks import LockSource, lock_note
from bastion.recon.reconciler import Reconciler
from bastion.risk.port import OrderPath, OrderRequest
from bastion.venues.port import FillsPage, PositionRecord, VenueQueries

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
    venue: VenueQueries
    sender: OrderSender
    drain: Callable[[], object]
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
        broker = {c: r.net for c, r in positions.items() if self._mine(c, instruments) and r.net}
        self._adopt(instruments, broker, fills, note, result)
        if restore:
            recent = {parse_contract_id(f.contract_id)[0]: f.contract_id for f in fills.fills}
            if not self._restore(instruments, recent, result):
                return result
        else:
            self._transfer(instruments, note, result)
        report, _ = self.reconciler.run(self.venue)
        result.report = report
        left = [b for b in report.breaks if b.instrument_id in instruments and b.locks]
        if report.clean:
            # The operator looked (the note says why): the locks only an operator clears
            # go too, each journaled.
            for iid in sorted(instruments):
                for source in (LockSource.ANOMALY, LockSource.BREAKER, LockSource.OPERATOR):
                    change = self.reconciler.locks.unlock(iid, source)
                    if change is not None:
                        self._step(result, f"5. {iid} unlocked ({source}: {change.why}): {note}")
                        # The note the alert mapping turns into "instrument unlocked".
                        self.oms.record(lock_note(self.reconciler.clock.now(), change, note))
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
        self.drain()

    def _cancel_working(self, instruments: set[InstrumentId], result: ProcedureResult) -> bool:
        book = self.oms.book
        for order in list(book.broker_orders.values()):
            if self._mine(order.contract_id, instruments) and order.state in CANCELLABLE:
                self.sender.cancel(order.client_order_id, "recovery procedure")
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
                        strategy_id=UNATTRIBUTED,
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
                        strategy_id=UNATTRIBUTED,
                    )
                )
        self._step(result, f"3-4. delta adopted in {len(result.adopted)} balance trade(s)")

    def _unattributed(self, instruments: set[InstrumentId]) -> dict[InstrumentId, int]:
        strategy = self.oms.book.positions.strategy
        return {
            iid: q
            for (sid, iid), q in sorted(strategy.items())
            if sid == UNATTRIBUTED and iid in instruments and q
        }

    def _transfer(self, instruments: set[InstrumentId], note: str, result: ProcedureResult) -> None:
        """Adopt: the unattributed position becomes ``strategy_id``'s, journaled (see
        ``transfer_records``)."""
        now = self.reconciler.clock.now()
        for iid, held in self._unattributed(instruments).items():
            self.oms.record(
                *transfer_records(self.oms.book, iid, held, self.strategy_id, note=note, now=now)
            )
            self._step(result, f"4. {iid}: {held:+d} adopted by strategy {self.strategy_id}")

    def _restore(
        self,
        instruments: set[InstrumentId],
        recent: dict[InstrumentId, ContractId],
        result: ProcedureResult,
    ) -> bool:
        """Restore: trade the unattributed position away through the one send path, in
        the contract the venue last traded for the instrument (else the one held most)."""
        book = self.oms.book
        for iid, held in self._unattributed(instruments).items():
            contracts = [
                (abs(q), c) for (i, c), q in sorted(book.positions.contract.items()) if i == iid
            ]
            cid = recent.get(iid) or (max(contracts)[1] if contracts else None)
            if cid is None:
                self._step(result, f"4. {iid}: no contract to trade it in: still locked")
                return False
            coid = self._send_correction(cid, -held)
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
        """One correcting order through the one send path (risk gate, write-ahead)."""
        when: dt.datetime = self.reconciler.clock.now()
        coid = ClientOrderId(f"correct:{cid}@{when.isoformat()}")
        created = BrokerOrderCreated(
            timestamp=when,
            client_order_id=coid,
            contract_id=cid,
            side=Side.of(delta),
            quantity=abs(delta),
            order_type=OrderType.MARKET,
            strategy_id=UNATTRIBUTED,
            venue=self.sender.venue_name,
        )
        held = self.oms.book.positions.contract_position(cid)
        result = self.sender.send(
            OrderRequest(
                order=created,
                path=OrderPath.RECONCILE,
                instrument_id=parse_contract_id(cid)[0],
                strategy_id=UNATTRIBUTED,
                reduces_position=held * delta < 0 and abs(delta) <= abs(held),
            )
        )
        if not result.written:
            return None
        return coid
