"""A break locks its instrument until it clears (R7.3); locks survive restarts; a close
with no matching broker position is never sent (R7.4).

Invariants: a locked instrument refuses every order except the recovery path; an
incomplete reconciliation never unlocks; breaker and operator locks are not cleared by
reconciliation; the lock set is reloaded from the store.
"""

from __future__ import annotations

from bastion.clock import utc
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated
from bastion.recon.breaks import Break, BreakKind, ReconReport
from bastion.recon.locks import LockBook, LockingGate, LockSource
from bastion.risk.port import OrderPath, OrderRequest, PassThroughRisk

ES = InstrumentId("ES")
C = ContractId("ES/202606")


class _State:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get_state(self, key: str) -> str | None:
        return self.data.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.data[key] = value


def _report(*breaks: Break, unknown: tuple[str, ...] = ()) -> ReconReport:
    return ReconReport(tuple(breaks), unknown)


def _brk() -> Break:
    return Break(ES, BreakKind.CONTRACT_VS_BROKER, C, 1, 0)


def _request(
    side: Side = Side.BUY,
    qty: int = 1,
    *,
    reduces: bool = False,
    path: OrderPath = OrderPath.AUTOMATIC,
) -> OrderRequest:
    order = BrokerOrderCreated(
        timestamp=utc(2026, 3, 2),
        client_order_id=ClientOrderId("C1-1.1"),
        contract_id=C,
        side=side,
        quantity=qty,
        order_type=OrderType.MARKET,
    )
    return OrderRequest(order=order, path=path, instrument_id=ES, reduces_position=reduces)


def test_locks_break_locks_and_clean_report_unlocks() -> None:
    book = LockBook(_State())
    changes = book.sync_from_report(_report(_brk()))
    assert [(c.instrument_id, c.locked) for c in changes] == [(ES, True)]
    assert book.is_locked(ES)
    assert book.sync_from_report(_report(_brk())) == []
    changes = book.sync_from_report(_report())
    assert [(c.instrument_id, c.locked) for c in changes] == [(ES, False)]
    assert not book.is_locked(ES)


def test_locks_incomplete_report_never_unlocks() -> None:
    book = LockBook(_State())
    book.sync_from_report(_report(_brk()))
    book.sync_from_report(_report(unknown=("broker positions",)))
    assert book.is_locked(ES)


def test_locks_breaker_lock_is_not_cleared_by_reconciliation() -> None:
    book = LockBook(_State())
    book.lock(ES, LockSource.BREAKER, "loop")
    book.sync_from_report(_report())
    assert book.is_locked(ES)
    book.unlock(ES, LockSource.BREAKER)
    assert not book.is_locked(ES)


def test_locks_reload_from_store_keeps_locks() -> None:
    state = _State()
    LockBook(state).sync_from_report(_report(_brk()))
    assert LockBook(state).is_locked(ES)


def test_locking_gate_locked_instrument_denies_except_recovery_path() -> None:
    book = LockBook(_State())
    book.lock(ES, LockSource.RECONCILIATION, "contract_vs_broker")
    inner = PassThroughRisk()
    gate = LockingGate(inner, book)
    denied = gate.check(_request())
    assert not denied.allowed
    assert denied.reason is Reason.RECONCILIATION_BREAK
    assert inner.requests == []
    assert gate.check(_request(path=OrderPath.RECONCILE)).allowed
    assert len(inner.requests) == 1


def test_locking_gate_close_without_broker_position_is_denied() -> None:
    broker: dict[ContractId, int] = {}
    gate = LockingGate(PassThroughRisk(), LockBook(_State()), lambda: broker)
    assert not gate.check(_request(Side.SELL, 1, reduces=True)).allowed
    broker[C] = 2
    assert gate.check(_request(Side.SELL, 1, reduces=True)).allowed
    assert not gate.check(_request(Side.SELL, 3, reduces=True)).allowed
    assert not gate.check(_request(Side.BUY, 1, reduces=True)).allowed
    assert gate.check(_request(Side.BUY, 1)).allowed


def test_locking_gate_unknown_broker_view_denies_close() -> None:
    gate = LockingGate(PassThroughRisk(), LockBook(_State()), lambda: None)
    decision = gate.check(_request(Side.SELL, 1, reduces=True))
    assert not decision.allowed
    assert "unknown" in decision.message
