"""What ib_async 2.1 itself does in five cases, shown against the fake TWS, beside what
the IB adapter does instead.

Invariant: the adapter never leans on ib_async where ib_async fails open: an ambiguous
contract (ib_async: ``[None]`` and a log line), a client id in use (ib_async: a
timeout), an execution reported twice (ib_async: both), an unanswered request
(ib_async: waits for ever) and IB's 1100/1102 (ib_async: only an error event, the
socket still up) each get a clear, fail-closed answer from the adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from ib_async import IB, Contract

from bastion.domain.enums import Side
from bastion.testing.conformance_base import VenueSetup
from bastion.testing.fake_tws import FakeTws, fake_contract
from bastion.testing.ib_harness import fake_tws_for
from bastion.testing.venue_stubs import CONTRACT, make_order, stub_spec
from bastion.venues.ib.errors import ClientIdInUse
from tests.integration.ib.world import ib_world

T = TypeVar("T")
ES_QUERY = Contract(secType="FUT", symbol="ES", lastTradeDateOrContractMonth="202606")


@contextmanager
def _fake(**changes: object) -> Iterator[FakeTws]:
    tws = fake_tws_for(VenueSetup(), **changes)
    try:
        yield tws
    finally:
        tws.stop()


def _with_ib(tws: FakeTws, body: Callable[[IB], Awaitable[T]], client_id: int = 50) -> T:
    async def run() -> T:
        ib = IB()
        try:
            await ib.connectAsync("127.0.0.1", tws.port, clientId=client_id, timeout=5)
            return await body(ib)
        finally:
            ib.disconnect()

    return asyncio.run(run())


def _ambiguous() -> list[object]:
    spec = stub_spec()
    return [
        fake_contract(CONTRACT, spec, con_id=111),
        fake_contract(CONTRACT, spec, con_id=222, multiplier=Decimal(5), trading_class="MES"),
    ]


def test_ib_async_ambiguous_contract_is_none_adapter_lists_candidates(tmp_path: Path) -> None:
    with _fake(contracts=_ambiguous()) as tws:
        qualified = _with_ib(tws, lambda ib: ib.qualifyContractsAsync(ES_QUERY))
        assert qualified == [None]  # ib_async: no error, just a log line
    with ib_world(tmp_path, fake={"contracts": _ambiguous()}) as w:
        problem = w.venue.contracts.problem(CONTRACT) or ""
        assert "2 candidates" in problem
        assert "conId 111" in problem
        assert "conId 222" in problem


def test_ib_async_client_id_in_use_times_out_adapter_refuses(tmp_path: Path) -> None:
    with _fake() as tws:
        tws.faults.clients_in_use = {50}

        async def connect() -> None:
            await IB().connectAsync("127.0.0.1", tws.port, clientId=50, timeout=0.5)

        with pytest.raises(TimeoutError):  # ib_async: waits out its timeout, says nothing of 326
            asyncio.run(connect())
    with ib_world(tmp_path, connect=False, connect_timeout=60.0) as w:
        w.tws.faults.clients_in_use = {10}
        with pytest.raises(ClientIdInUse, match="error 326"):
            w.venue.connect()


def test_ib_async_repeats_an_execution_adapter_reports_it_once(tmp_path: Path) -> None:
    with ib_world(tmp_path) as w:
        w.tws.faults.duplicate_exec_next = 1
        w.venue.submit(make_order(Side.BUY, 1, contract_id=CONTRACT))
        w.venue.poll_events()

        async def executions(ib: IB) -> list[str]:
            return [f.execution.execId for f in await ib.reqExecutionsAsync()]

        ids = _with_ib(w.tws, executions)
        assert len(ids) == 2
        assert len(set(ids)) == 1  # ib_async: the same execId twice
        page = w.venue.fills_since(None).value
        assert page is not None
        assert [f.exec_id for f in page.fills] == ids[:1]


def test_ib_async_unanswered_request_waits_adapter_times_out(tmp_path: Path) -> None:
    with _fake() as tws:
        tws.faults.silent = {"contract_details"}

        async def details(ib: IB) -> bool:
            request = asyncio.ensure_future(ib.reqContractDetailsAsync(ES_QUERY))
            done, _ = await asyncio.wait({request}, timeout=0.5)
            pending = not done  # ib_async: no answer and no end of its own
            request.cancel()
            return pending

        assert _with_ib(tws, details)
    with ib_world(tmp_path, connect=False, query_timeout=0.5) as w:
        w.tws.faults.silent = {"contract_details"}
        assert w.venue.connect()
        assert "did not answer the contract query" in (w.venue.contracts.problem(CONTRACT) or "")


def test_ib_async_1100_is_only_an_error_event_adapter_halts(tmp_path: Path) -> None:
    with _fake() as tws:

        async def watch(ib: IB) -> tuple[list[int], bool, int]:
            codes: list[int] = []
            drops: list[bool] = []
            ib.errorEvent += lambda _req, code, _text, _contract: codes.append(code)
            ib.disconnectedEvent += lambda: drops.append(True)
            tws.connectivity_lost()
            tws.connectivity_restored(data_lost=False)
            await ib.reqCurrentTimeAsync()  # everything sent before it has been read
            return codes, ib.isConnected(), len(drops)

        codes, connected, drops = _with_ib(tws, watch)
        assert [c for c in codes if c >= 1100] == [1100, 1102]
        assert connected  # ib_async: still "connected" through the whole outage
        assert drops == 0
    with ib_world(tmp_path) as w:
        w.tws.connectivity_lost()
        assert w.venue.wait_for(lambda: not w.venue.is_connected, timeout=10)
        assert not w.venue.submit(make_order(contract_id=CONTRACT)).taken
