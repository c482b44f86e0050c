"""ib_async on its own thread: the event loop, and the hooks that see IB's raw reports.

``IbLoop`` runs one asyncio loop in a daemon thread; everything that touches ib_async
runs there (order calls are scheduled onto it, queries are coroutines with a timeout).

``new_ib`` builds an ``ib_async.IB`` whose wrapper hands every order, execution,
commission, error and tick callback to a ``Listener`` as it arrives, after ib_async's
own bookkeeping. The adapter reads these raw callbacks rather than ib_async's
trade-level events because ib_async drops what it cannot tie to an order it knows: an
orderStatus without an openOrder, the execDetails and commission reports of another
client's or a previous session's orders. Which callbacks answer a request (and are not
live reports) is said by ``requested``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from ib_async import IB, CommissionReport, Contract, Execution, Order, OrderState
from ib_async.client import Client
from ib_async.wrapper import Wrapper

__all__ = ["IbLoop", "Listener", "new_ib"]

log = logging.getLogger("bastion.ib.session")
T = TypeVar("T")


class Listener(Protocol):
    def on_open_order(
        self, contract: Contract, order: Order, state: OrderState, *, requested: bool
    ) -> None: ...

    def on_order_status(
        self, order_id: int, status: str, filled: float, perm_id: int, client_id: int
    ) -> None: ...

    def on_execution(
        self, contract: Contract, execution: Execution, *, requested: bool
    ) -> None: ...

    def on_commission(self, exec_id: str, commission: float) -> None: ...

    def on_error(self, req_id: int, code: int, text: str) -> None: ...

    def on_tick_price(self, req_id: int, tick_type: int, price: float, size: float) -> None: ...

    def on_tick_size(self, req_id: int, tick_type: int, size: float) -> None: ...

    def on_tick_generic(self, req_id: int, tick_type: int, value: float) -> None: ...

    def on_market_data_type(self, req_id: int, data_type: int) -> None: ...

    def on_account_summary(
        self, req_id: int, account: str, tag: str, value: str, currency: str
    ) -> None: ...

    def heard(self) -> None:
        """Any message arrived from IB."""


class _Hooks(Wrapper):
    """ib_async's wrapper, plus a copy of each raw callback to the listener."""

    listener: Listener

    def openOrder(
        self,
        orderId: int,
        contract: Contract,
        order: Order,
        orderState: OrderState,
    ) -> None:
        requested = self._results.get("openOrders") is not None
        super().openOrder(orderId, contract, order, orderState)
        if not order.whatIf:
            self.listener.on_open_order(contract, order, orderState, requested=requested)

    def orderStatus(  # noqa: PLR0917 - ib_async's signature
        self, orderId: int, status: str, filled: float, remaining: float,
        avgFillPrice: float, permId: int, parentId: int, lastFillPrice: float,
        clientId: int, whyHeld: str, mktCapPrice: float = 0.0,
    ) -> None:  # fmt: skip
        with contextlib.suppress(Exception):  # ib_async only logs what it cannot match
            super().orderStatus(
                orderId, status, filled, remaining, avgFillPrice, permId, parentId,
                lastFillPrice, clientId, whyHeld, mktCapPrice,
            )  # fmt: skip
        self.listener.heard()
        self.listener.on_order_status(orderId, status, filled, permId, clientId)

    def execDetails(self, reqId: int, contract: Contract, execution: Execution) -> None:
        requested = reqId in self._futures
        super().execDetails(reqId, contract, execution)
        self.listener.heard()
        self.listener.on_execution(contract, execution, requested=requested)

    def commissionReport(self, commissionReport: CommissionReport) -> None:
        super().commissionReport(commissionReport)
        self.listener.on_commission(commissionReport.execId, commissionReport.commission)

    def error(
        self,
        reqId: int,
        errorCode: int,
        errorString: str,
        advancedOrderRejectJson: str,
    ) -> None:
        super().error(reqId, errorCode, errorString, advancedOrderRejectJson)
        self.listener.heard()
        self.listener.on_error(reqId, errorCode, errorString)

    # Market data is requested by the adapter itself (no ib_async Ticker): not forwarded
    # to ib_async, which would log each tick as for an unknown request.
    def priceSizeTick(self, reqId: int, tickType: int, price: float, size: float) -> None:
        self.listener.heard()
        self.listener.on_tick_price(reqId, tickType, price, size)

    def tickSize(self, reqId: int, tickType: int, size: float) -> None:
        self.listener.on_tick_size(reqId, tickType, size)

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:
        self.listener.on_tick_generic(reqId, tickType, value)

    def marketDataType(self, reqId: int, marketDataId: int) -> None:
        self.listener.on_market_data_type(reqId, marketDataId)

    def accountSummary(
        self,
        _reqId: int,
        account: str,
        tag: str,
        value: str,
        currency: str,
    ) -> None:
        super().accountSummary(_reqId, account, tag, value, currency)
        self.listener.on_account_summary(_reqId, account, tag, value, currency)


def new_ib(listener: Listener) -> IB:
    """An ``IB`` whose raw callbacks also reach ``listener`` (call on the IB thread)."""
    ib = IB()
    hooks = _Hooks(ib)
    hooks.listener = listener
    ib.wrapper = hooks
    ib.client = Client(hooks)
    ib.client.apiEnd += ib.disconnectedEvent
    return ib


class IbLoop:
    """One asyncio loop on one daemon thread, for everything ib_async does."""

    def __init__(self, name: str = "ib-io") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., object], *args: object) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for it; ``TimeoutError`` past ``timeout``."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout:g} s") from None

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
