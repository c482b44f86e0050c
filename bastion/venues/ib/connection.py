"""The IB connection's life: connect, check, qualify, subscribe, notice drops, reconnect.

A supervisor task on the IB thread keeps the venue connected once ``connect`` was
called, until ``disconnect``:

1. ``IB.connectAsync(..., raiseSyncErrors=True)``: the handshake, then ib_async's
   start-up sync (positions, open and completed orders, account, executions); a sync
   request that times out is an error. Error 326 (client id in use) is caught on the
   error callback and ends the attempt at once: ib_async itself would wait out its
   timeout.
2. The managed accounts must fit the profile: paper accounts only under a paper profile
   (live ones only under live), and the profile's account among them. Otherwise Bastion
   disconnects and refuses (``AccountMismatch``), for good.
3. Each contract is qualified with a timeout (ib_async would wait forever for an
   unanswered request) and checked against its spec (``instruments.check_details``).
4. Market data is requested (``reqMarketDataType``, then ``reqMktData`` per contract).
5. The connection epoch rises: the engine runs recovery and reconciliation before it
   sends anything.

A dropped socket marks the venue disconnected at once (order calls refused, snapshots
unknown) and the supervisor reconnects with exponential backoff. IB's own 1100 (TWS lost
IB's servers, socket still up) does the same without a reconnect; 1101/1102 (restored)
raise the epoch again, and after 1101 market data is requested again.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

from ib_async import IB

from bastion.domain.ids import ContractId
from bastion.secrets import mask_account
from bastion.venues.ib.config import IbConfig
from bastion.venues.ib.errors import (
    AccountMismatch,
    ClientIdInUse,
    ErrorKind,
    IbRefused,
    known_code,
)
from bastion.venues.ib.instruments import ContractBook, check_details
from bastion.venues.ib.market_data import HALTED_TICK, IbMarket
from bastion.venues.ib.session import IbLoop, Listener, new_ib

__all__ = ["IbConnection", "account_problem", "is_paper_account", "now_utc"]

log = logging.getLogger("bastion.ib.connection")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_NETWORK_ERRORS = (OSError, TimeoutError, ConnectionError, asyncio.TimeoutError, ValueError)


def is_paper_account(account: str) -> bool:
    return account.upper().startswith(("DU", "DF"))


def account_problem(accounts: Sequence[str], wanted: str, *, paper: bool) -> str | None:
    """Why the login's accounts do not fit the profile, or ``None``."""
    if not accounts:
        return "IB reported no managed accounts"
    shown = ", ".join(mask_account(a) for a in accounts)
    live = [a for a in accounts if not is_paper_account(a)]
    if paper and live:
        return (
            f"IB reports live account {', '.join(mask_account(a) for a in live)} to a paper"
            " profile; connect to the paper login (TWS 7497, Gateway 4002)"
        )
    if not paper and len(live) < len(accounts):
        return f"IB reports paper account(s) to a live profile (it manages {shown})"
    if wanted not in accounts:
        return (
            f"account {mask_account(wanted)} is not managed by this IB login (it manages {shown})"
        )
    return None


class IbConnection(abc.ABC):
    """The connection half of ``IbVenue``: its state is read from any thread, changed
    only on the IB thread."""

    def __init__(self, config: IbConfig, contracts: ContractBook) -> None:
        self.config = config
        self.contracts = contracts
        self.market = IbMarket()
        self.connection_epoch = 0
        self.disconnects = 0
        self.last_disconnect_reason = ""
        self.last_heard: dt.datetime | None = None
        """When IB last answered anything (a callback, a current-time answer), UTC."""
        self.clock_skew: dt.timedelta | None = None
        """IB's current time (reqCurrentTime) minus ours, at connect and every
        ``time_check_seconds``: the answer is also the connection's heartbeat."""
        self.managed_accounts: tuple[str, ...] = ()
        self._loop: IbLoop | None = None
        self._ib: IB | None = None
        self._state = threading.Condition()
        self._socket_up = False
        self._link_ok = True
        self._attempts = 0
        self._refusal: IbRefused | None = None
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._dropped: asyncio.Event | None = None
        self._in_use: asyncio.Future[str] | None = None
        self._market_requests: dict[int, ContractId] = {}
        self._drop_message = ""

    # -- state ------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._socket_up and self._link_ok

    def _set(self, *, socket_up: bool | None = None, link_ok: bool | None = None) -> None:
        with self._state:
            if socket_up is not None:
                self._socket_up = socket_up
            if link_ok is not None:
                self._link_ok = link_ok
            self._state.notify_all()

    def _new_epoch(self, why: str) -> None:
        with self._state:
            self.connection_epoch += 1
            self._state.notify_all()
        log.info("IB %s: connection epoch %d (%s)", self.config.name, self.connection_epoch, why)

    # -- connect / disconnect (caller's thread) ---------------------------------------
    def connect(self) -> bool:
        """Connect (once started, the supervisor keeps reconnecting). Raises ``IbRefused``
        when Bastion refuses this login (client id in use, accounts); ``False`` when it
        could not connect in time."""
        if self._refusal is not None:
            raise self._refusal
        if self.is_connected:
            return True
        if self._loop is None or not self._loop.alive:
            self._stopping = False
            self._loop = IbLoop(f"ib-io-{self.config.role}")
            self._loop.submit(self._supervise()).add_done_callback(self._supervisor_ended)
        bound = 3 * self.config.connect_timeout + 2 * self.config.query_timeout + 1
        with self._state:
            seen = self._attempts
            self._state.wait_for(
                lambda: self.is_connected or self._refusal is not None or self._attempts > seen,
                timeout=bound,
            )
        if self._refusal is not None:
            raise self._refusal
        return self.is_connected

    def disconnect(self) -> None:
        """Disconnect and stop reconnecting."""
        self._stopping = True
        loop = self._loop
        if loop is None:
            return
        if loop.alive:
            with contextlib.suppress(TimeoutError, RuntimeError):
                loop.run(self._close(), timeout=5)
        loop.stop()
        self._loop = None
        self._set(socket_up=False)

    def _supervisor_ended(self, future: concurrent.futures.Future[None]) -> None:
        """A supervisor that died of a bug must not leave the venue looking alive."""
        if future.cancelled() or future.exception() is None:
            return
        log.error(
            "IB %s: the connection supervisor failed", self.config.name, exc_info=future.exception()
        )
        self._refuse_login(
            IbRefused(f"the IB connection supervisor failed: {future.exception()!r}")
        )

    async def _close(self) -> None:
        if self._wake is not None:
            self._wake.set()
        if self._dropped is not None:
            self._dropped.set()
        ib, self._ib = self._ib, None
        if ib is not None:
            ib.disconnect()

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) until ``condition()`` holds; re-checked at every change of the
        connection's state (connected, 1100/1101/1102, a new epoch, an attempt's end)."""
        with self._state:
            return self._state.wait_for(condition, timeout)

    # -- the supervisor (IB thread) ----------------------------------------------------
    async def _supervise(self) -> None:
        self._wake = asyncio.Event()
        self._dropped = asyncio.Event()
        delay = self.config.reconnect_initial
        first = True
        while not self._stopping:
            try:
                await self._attempt()
            except AccountMismatch as exc:
                self._refuse_login(exc)
                return
            except ClientIdInUse as exc:
                if first:
                    self._refuse_login(exc)
                    return
                self.last_disconnect_reason = str(exc)
                log.error("IB %s: ALERT: %s", self.config.name, exc)  # noqa: TRY400 - an alert, not a trace
            except _NETWORK_ERRORS as exc:
                self.last_disconnect_reason = f"connect failed: {exc!r}"
                log.warning("IB %s: %s", self.config.name, self.last_disconnect_reason)
            else:
                delay = self.config.reconnect_initial
                self._note_attempt()
                await self._while_connected()
                self._dropped.clear()
                first = False
                if self._stopping:
                    return
            self._note_attempt()
            first = False
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, self.config.reconnect_max)

    async def _while_connected(self) -> None:
        """Wait for the connection to drop, asking IB its time every
        ``time_check_seconds``: the clock comparison, and a heartbeat IB answers."""
        assert self._dropped is not None  # noqa: S101 - set by _supervise
        while not self._dropped.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._dropped.wait(), self.config.time_check_seconds)
            ib = self._ib
            if not self._dropped.is_set() and ib is not None:
                await self._check_time(ib)

    _query_lock: asyncio.Lock | None = None
    """One request at a time (IB thread): ib_async keys a current-time request by its
    kind, so two at once (this check and a round trip) would leave one unanswered."""

    async def _check_time(self, ib: IB) -> None:
        if self._query_lock is None:
            self._query_lock = asyncio.Lock()
        try:
            async with self._query_lock:
                server = await asyncio.wait_for(ib.reqCurrentTimeAsync(), self.config.query_timeout)
        except (TimeoutError, ConnectionError):  # unanswered: last_heard stays old
            return
        now = dt.datetime.now(dt.UTC)
        self.last_heard = now
        self.clock_skew = server.astimezone(dt.UTC) - now

    def heard(self) -> None:
        """Any callback from IB (IB thread)."""
        self.last_heard = dt.datetime.now(dt.UTC)

    def _note_attempt(self) -> None:
        with self._state:
            self._attempts += 1
            self._state.notify_all()

    def _refuse_login(self, exc: IbRefused) -> None:
        log.error("IB %s: refused: %s", self.config.name, exc)
        self.last_disconnect_reason = str(exc)
        with self._state:
            self._refusal = exc
            self._state.notify_all()

    async def _attempt(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        assert self._dropped is not None  # noqa: S101 - set by _supervise
        self._dropped.clear()
        ib = new_ib(self._listener())
        self._in_use = loop.create_future()
        connecting = asyncio.ensure_future(
            ib.connectAsync(
                config.host,
                config.port,
                clientId=config.client_id,
                timeout=config.connect_timeout,
                account=config.account,
                raiseSyncErrors=True,
            )
        )
        try:
            done, _ = await asyncio.wait(
                {connecting, self._in_use}, return_when=asyncio.FIRST_COMPLETED
            )
            if self._in_use in done:
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                ib.disconnect()
                raise ClientIdInUse(self._in_use_message())
            connecting.result()
        finally:
            self._in_use = None
        try:
            await self._after_connect(ib)
        except BaseException:
            ib.disconnect()
            raise

    async def _after_connect(self, ib: IB) -> None:
        config = self.config
        accounts = tuple(ib.managedAccounts())
        problem = account_problem(accounts, config.account, paper=config.paper)
        if problem is not None:
            raise AccountMismatch(
                f"IB at {config.host}:{config.port}: {problem}; Bastion disconnected and"
                " will not trade through this login"
            )
        self.managed_accounts = accounts
        await self._check_time(ib)
        ib.disconnectedEvent += self._on_disconnected
        ib.client.apiError += self._on_api_error
        self._ib = ib
        await self._qualify(ib)
        self._subscribe(ib)
        if not ib.isConnected():
            raise ConnectionError("the connection dropped while connecting")
        self._drop_message = ""
        self._set(socket_up=True, link_ok=True)
        self._new_epoch(f"connected as client {config.client_id}")

    def _in_use_message(self) -> str:
        c = self.config
        way_out = (
            "; if it will not go away, 'bastion kill --global-cancel"
            " CANCEL_EVERY_ORDER_IN_THE_ACCOUNT' cancels every order in the account from its"
            " own client id, then flattens"
            if c.role == "kill"
            else ""
        )
        return (
            f"IB client id {c.client_id} (role {c.role}) is in use (error 326): another"
            f" program or another Bastion {c.role} is connected with it, or TWS has not yet"
            " released it after a crash; stop that client or wait, or give this profile"
            f" another base venue.client_id{way_out}"
        )

    async def _qualify(self, ib: IB) -> None:
        cids = sorted(self.contracts.specs)

        async def one(cid: ContractId) -> None:
            try:
                found = await asyncio.wait_for(
                    ib.reqContractDetailsAsync(self.contracts.query(cid)),
                    self.config.query_timeout,
                )
            except TimeoutError:
                result: object = (
                    f"{cid}: IB did not answer the contract query within"
                    f" {self.config.query_timeout:g} s"
                )
            except ConnectionError as exc:
                result = f"{cid}: contract query failed ({exc})"
            else:
                result = check_details(cid, self.contracts.specs[cid], found)
            self.contracts.record(cid, result)  # type: ignore[arg-type]
            if isinstance(result, str):
                log.error("IB %s: %s; Bastion will not trade it", self.config.name, result)

        await asyncio.gather(*(one(cid) for cid in cids))

    def _subscribe(self, ib: IB) -> None:
        self._market_requests.clear()
        ib.reqMarketDataType(self.config.market_data_type)
        for cid in sorted(self.contracts.specs):
            qualified = self.contracts.qualified(cid)
            if qualified is None:
                continue
            req_id = ib.client.getReqId()
            self._market_requests[req_id] = cid
            self.market.on_data_type(cid, self.config.market_data_type)
            snapshot = regulatory = False
            ib.client.reqMktData(req_id, qualified.ib_contract(), "", snapshot, regulatory, [])

    def _on_api_error(self, message: str) -> None:
        self._drop_message = message

    def _on_disconnected(self) -> None:
        was = self._socket_up
        self._set(socket_up=False)
        self._ib = None
        if was:
            self.disconnects += 1
            self.last_disconnect_reason = (
                "disconnected by Bastion"
                if self._stopping
                else self._drop_message or "the connection to TWS closed"
            )
            log.warning("IB %s: disconnected: %s", self.config.name, self.last_disconnect_reason)
        if self._dropped is not None:
            self._dropped.set()

    @abc.abstractmethod
    def _listener(self) -> Listener:
        """The object ib_async's events go to (``IbVenue``)."""

    # -- connection-level IB messages (IB thread) -----------------------------------------
    def connection_error(self, req_id: int, code: int, text: str) -> bool:
        """Handle a code about the connection or market data; ``True`` if it was one."""
        if code == 326 and self._in_use is not None and not self._in_use.done():
            self._in_use.set_result(text)
            return True
        row = known_code(code)
        kind = row.kind if row is not None else None
        if kind is ErrorKind.CONNECTIVITY_LOST:
            self.last_disconnect_reason = f"IB {code}: {text}"
            self._set(link_ok=False)
            log.warning("IB %s: %s; new orders halt until it is restored", self.config.name, text)
            return True
        if kind in {ErrorKind.RESTORED_DATA_LOST, ErrorKind.RESTORED_DATA_KEPT}:
            self._set(link_ok=True)
            self._new_epoch(f"IB {code}: {text}")
            if kind is ErrorKind.RESTORED_DATA_LOST and self._ib is not None:
                self._subscribe(self._ib)
            return True
        cid = self._market_requests.get(req_id)
        if cid is not None:
            if kind is ErrorKind.MARKET_DATA_DELAYED:
                self.market.on_data_type(cid, 3)
            elif kind is ErrorKind.MARKET_DATA_UNAVAILABLE or code == 200:
                self.market.on_unavailable(cid, f"IB {code}: {text}")
            log.warning("IB %s: market data for %s: %s %s", self.config.name, cid, code, text)
            return True
        return False

    # -- market data (IB thread) -------------------------------------------------------
    def on_tick_price(self, req_id: int, tick_type: int, price: float, size: float) -> None:
        cid = self._market_requests.get(req_id)
        if cid is None or price <= 0:
            return
        self.market.on_price(
            cid, tick_type, self.contracts.ticks(cid, price), int(size or 0), now_utc()
        )

    def on_tick_size(self, req_id: int, tick_type: int, size: float) -> None:
        cid = self._market_requests.get(req_id)
        if cid is not None:
            self.market.on_size(cid, tick_type, int(size or 0), now_utc())

    def on_tick_generic(self, req_id: int, tick_type: int, value: float) -> None:
        cid = self._market_requests.get(req_id)
        if cid is not None and tick_type == HALTED_TICK:
            self.market.on_halted(cid, halted=value > 0)

    def on_market_data_type(self, req_id: int, data_type: int) -> None:
        cid = self._market_requests.get(req_id)
        if cid is not None:
            self.market.on_data_type(cid, data_type)
