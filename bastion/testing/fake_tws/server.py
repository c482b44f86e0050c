"""The fake TWS on loopback: a socket server speaking IB's framing to real IB clients.

``FakeTws(config).start()`` listens on a port the OS picks (``port``), one thread per
connection. It answers the handshake with ``SERVER_VERSION``, then ``startApi`` with
nextValidId and managedAccounts (or error 326 while the client id is taken, leaving the
socket open as TWS does), then the requests an IB client makes at start-up and while it
trades. The broker behind it (``broker.FakeBroker``) keeps the orders, executions,
positions and account; ``faults`` switches its misbehaviours; the methods below drive
what a gateway does to its clients (disconnects, the nightly 1100/1101/1102).

It is for tests on this machine: it binds to loopback only and stops with ``stop()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.ids import ContractId
from bastion.testing.fake_tws import messages as m
from bastion.testing.fake_tws.broker import FakeBroker, PlaceRequest, parse_ib_time
from bastion.testing.fake_tws.models import FakeContract
from bastion.testing.fake_tws.wire import HANDSHAKE, FrameReader, In, Out, frame

__all__ = ["FakeTws", "FakeTwsConfig"]

log = logging.getLogger("bastion.testing.fake_tws")

_CONTRACT_KEYS = (
    "conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right",
    "multiplier", "exchange", "primaryExchange", "currency", "localSymbol", "tradingClass",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FakeTwsConfig:
    contracts: Sequence[FakeContract]
    accounts: Sequence[str] = ("DU1234567",)
    host: str = "127.0.0.1"
    port: int = 0
    start: dt.datetime | None = None
    """The broker's clock at start; ``None``: the wall clock (and it follows it)."""
    manual_clock: bool = False
    """The clock moves only by ``advance`` (the conformance suite's GTD cases)."""
    start_prices: dict[ContractId, int] = field(default_factory=dict)
    """A first quote (bid; the ask one tick above) per contract, in ticks."""
    tick_seconds: float | None = None
    """On the wall clock: a seeded random-walk quote per contract this often."""
    seed: int = 7
    initial_cash: Decimal = Decimal(1_000_000)
    commission_per_contract: Decimal = Decimal("2.00")
    unsupported_time_in_force: frozenset[str] = frozenset()
    master_client_id: int | None = None


class _Conn:
    """One client connection: its writes are serialised; a dead one drops what it is sent."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.client_id: int | None = None
        self.market_data_type = 1
        self.subscriptions: dict[int, ContractId] = {}
        self.alive = True
        self._lock = threading.Lock()

    def send(self, fields: Sequence[object]) -> None:
        with self._lock:
            if not self.alive:
                return
            try:
                self.sock.sendall(frame(fields))
            except OSError:
                self.alive = False

    def close(self) -> None:
        with self._lock:
            self.alive = False
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()


class FakeTws:
    def __init__(self, config: FakeTwsConfig) -> None:
        self.config = config
        start = config.start or dt.datetime.now(dt.UTC)
        self.broker = FakeBroker(
            config.contracts,
            accounts=config.accounts,
            start=start,
            manual_clock=config.manual_clock,
            initial_cash=config.initial_cash,
            commission_per_contract=config.commission_per_contract,
            unsupported_time_in_force=config.unsupported_time_in_force,
            master_client_id=config.master_client_id,
        )
        self.broker.on_drop = self._close_conn
        self.faults = self.broker.faults
        for cid, bid in config.start_prices.items():
            self.broker.set_quote(cid, bid, bid + 1)
        self.requests: Counter[int] = Counter()
        """Messages received, by message id (``wire.In``)."""
        self.connects: Counter[int] = Counter()
        """Successful startApi per client id."""
        self._changed = threading.Condition(self.broker.lock)
        self._listener = socket.create_server((config.host, config.port))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[_Conn] = []
        self._refuse_until = 0.0
        self._rng = random.Random(config.seed)  # noqa: S311 - simulated prices, nothing secret
        self._handlers: dict[int, Callable[[_Conn, list[str]], None]] = {
            In.START_API: self._start_api,
            In.REQ_IDS: self._req_ids,
            In.REQ_CURRENT_TIME: self._current_time,
            In.REQ_MANAGED_ACCTS: self._managed_accounts,
            In.REQ_POSITIONS: self._positions,
            In.REQ_OPEN_ORDERS: self._open_orders,
            In.REQ_ALL_OPEN_ORDERS: self._open_orders,
            In.REQ_COMPLETED_ORDERS: self._completed_orders,
            In.REQ_ACCOUNT_UPDATES: self._account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            In.REQ_ACCOUNT_SUMMARY: self._account_summary,
            In.REQ_EXECUTIONS: self._executions,
            In.REQ_CONTRACT_DATA: self._contract_details,
            In.REQ_MARKET_DATA_TYPE: self._market_data_type,
            In.REQ_MKT_DATA: self._market_data,
            In.CANCEL_MKT_DATA: self._cancel_market_data,
            In.PLACE_ORDER: self._place_order,
            In.CANCEL_ORDER: self._cancel_order,
            In.REQ_GLOBAL_CANCEL: lambda _c, _f: self.broker.global_cancel(),
        }

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> FakeTws:
        self._spawn(self._accept_loop, "fake-tws-accept")
        if self.config.tick_seconds is not None and not self.config.manual_clock:
            self._spawn(self._feed_loop, "fake-tws-feed")
        return self

    def stop(self) -> None:
        self._stop.set()
        for conn in list(self._conns):
            conn.close()
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeTws:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            with self.broker.lock:
                self._conns.append(conn)
            self._spawn(self._serve, f"fake-tws-conn-{len(self._threads)}", conn)

    def _feed_loop(self) -> None:
        assert self.config.tick_seconds is not None  # noqa: S101 - checked by start()
        while not self._stop.wait(self.config.tick_seconds):
            with self.broker.lock:
                for contract in self.broker.contracts:
                    quote = self.broker.sim.market_quote(contract.contract_id)
                    if quote is None:
                        continue
                    bid = quote.bid_ticks + self._rng.choice((-1, 0, 0, 1))
                    self.broker.set_quote(contract.contract_id, bid, bid + 1)

    # -- one connection ----------------------------------------------------------------
    def _serve(self, conn: _Conn) -> None:
        reader = FrameReader()
        pending = b""
        greeted = versioned = False
        try:
            while not self._stop.is_set():
                try:
                    data = conn.sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                if not greeted:
                    pending += data
                    if len(pending) < len(HANDSHAKE):
                        continue
                    if not pending.startswith(HANDSHAKE):
                        break
                    data, greeted = pending[len(HANDSHAKE) :], True
                for fields in reader.feed(data):
                    if not versioned:  # the client's version range: answer with ours
                        versioned = True
                        self._greet(conn)
                        continue
                    self._dispatch(conn, fields)
        finally:
            self._close_conn(conn)

    def _greet(self, conn: _Conn) -> None:
        stamp = self.broker.clock.now().strftime("%Y%m%d %H:%M:%S") + " UTC"
        conn.send([m.SERVER_VERSION, stamp])

    def _dispatch(self, conn: _Conn, fields: list[str]) -> None:
        if not fields or not fields[0].isdigit():
            return
        msg_id = int(fields[0])
        with self.broker.lock:
            self.requests[msg_id] += 1
            handler = self._handlers.get(msg_id)
            if handler is None:
                log.debug("fake TWS: ignored message %s", fields[:3])
                return
            try:
                handler(conn, fields)
            except (ValueError, IndexError) as exc:
                log.warning("fake TWS: bad message %s: %s", fields[:3], exc)
                conn.send(
                    m.error(-1, 320, f"Server error when reading an API client request: {exc}")
                )
            self._changed.notify_all()

    def _close_conn(self, conn: _Conn) -> None:
        with self.broker.lock:
            if conn in self._conns:
                self._conns.remove(conn)
            if conn in self.broker.connections:
                self.broker.connections.remove(conn)
            self._changed.notify_all()
        conn.close()

    def _silent(self, kind: str) -> bool:
        return kind in self.faults.silent

    # -- handlers ------------------------------------------------------------------------
    def _start_api(self, conn: _Conn, fields: list[str]) -> None:
        client_id = int(fields[2])
        taken = {c.client_id for c in self.broker.connections}
        if client_id in self.faults.clients_in_use or client_id in taken:
            conn.send(
                m.error(
                    -1,
                    326,
                    "Unable to connect as the client id is already in use. Retry with a"
                    " unique client id.",
                )
            )
            return
        conn.client_id = client_id
        self.broker.connections.append(conn)
        self.connects[client_id] += 1
        conn.send([Out.MANAGED_ACCTS, 1, ",".join(self.broker.accounts)])
        conn.send([Out.NEXT_VALID_ID, 1, self.broker.next_order_id(client_id)])
        for code, text in (
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefil"),
        ):
            conn.send(m.error(-1, code, text))

    def _req_ids(self, conn: _Conn, fields: list[str]) -> None:
        conn.send([Out.NEXT_VALID_ID, 1, self.broker.next_order_id(conn.client_id or 0)])

    def _current_time(self, conn: _Conn, fields: list[str]) -> None:
        if not self._silent("current_time"):
            now = self.broker.now() + self.faults.clock_offset
            conn.send([Out.CURRENT_TIME, 1, int(now.timestamp())])

    def _managed_accounts(self, conn: _Conn, fields: list[str]) -> None:
        conn.send([Out.MANAGED_ACCTS, 1, ",".join(self.broker.accounts)])

    def _positions(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("positions"):
            return
        for contract, quantity in self.broker.positions():
            conn.send(m.position(self.broker.account, contract, quantity, Decimal(0)))
        conn.send([Out.POSITION_END, 1])

    def _open_orders(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("open_orders"):
            return
        every = int(fields[0]) == In.REQ_ALL_OPEN_ORDERS
        for order in self.broker.orders.values():
            if order.working and (every or order.client_id == conn.client_id):
                conn.send(m.open_order(order))
                conn.send(m.order_status(order))
        conn.send([Out.OPEN_ORDER_END, 1])

    def _completed_orders(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("completed_orders"):
            return
        for order in self.broker.orders.values():
            if not order.working:
                conn.send(m.completed_order(order))
        conn.send([Out.COMPLETED_ORDERS_END])

    def _account_rows(self) -> list[tuple[str, str, str]]:
        values = self.broker.account_values()
        return [(tag, str(value), "USD") for tag, value in values.items()]

    def _account_updates(self, conn: _Conn, fields: list[str]) -> None:
        if fields[2] != "1" or self._silent("account_updates"):
            return
        account = fields[3] or self.broker.account
        for tag, value, currency in self._account_rows():
            conn.send(m.account_value(account, tag, value, currency))
        conn.send([Out.ACCT_UPDATE_TIME, 1, self.broker.now().strftime("%H:%M")])
        conn.send([Out.ACCT_DOWNLOAD_END, 1, account])

    def _account_updates_multi(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("account_updates"):
            return
        req_id, account, model = fields[2], fields[3], fields[4]
        for tag, value, currency in self._account_rows():
            conn.send([Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model, tag, value, currency])
        conn.send([Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id])

    def _account_summary(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("account_summary"):
            return
        req_id = int(fields[2])
        wanted = set(fields[4].split(",")) if len(fields) > 4 else set()
        for account in self.broker.accounts:
            for tag, value, currency in self._account_rows():
                if not wanted or tag in wanted:
                    conn.send(m.account_summary(req_id, account, tag, value, currency))
        conn.send([Out.ACCOUNT_SUMMARY_END, 1, req_id])

    def _executions(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("executions"):
            return
        req_id, client_id, since = int(fields[2]), int(fields[3] or 0), fields[5]
        found = self.broker.executions_since(client_id, parse_ib_time(since) if since else None)
        for execution in found:
            conn.send(m.exec_details(req_id, execution))
            conn.send(m.commission_report(execution))
        conn.send([Out.EXECUTION_DATA_END, 1, req_id])

    def _contract_details(self, conn: _Conn, fields: list[str]) -> None:
        if self._silent("contract_details"):
            return
        req_id = int(fields[2])
        query = dict(zip(_CONTRACT_KEYS, fields[3:15], strict=True))
        found = self.broker.find_contracts(query)
        if not found:
            conn.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        for contract in found:
            conn.send(m.contract_data(req_id, contract))
        conn.send([Out.CONTRACT_DATA_END, 1, req_id])

    def _market_data_type(self, conn: _Conn, fields: list[str]) -> None:
        conn.market_data_type = int(fields[2])

    def _market_data(self, conn: _Conn, fields: list[str]) -> None:
        req_id = int(fields[2])
        query = dict(zip(_CONTRACT_KEYS, fields[3:15], strict=True))
        found = self.broker.find_contracts(query)
        if len(found) != 1:
            conn.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        mode = self.faults.market_data
        if mode == "none":
            conn.send(m.error(req_id, 354, "Requested market data is not subscribed."))
            return
        conn.subscriptions[req_id] = found[0].contract_id
        if mode == "delayed":
            conn.send(
                m.error(
                    req_id,
                    10167,
                    "Requested market data is not subscribed. Displaying delayed market data.",
                )
            )
        data_type = {"delayed": 3, "frozen": 2}.get(mode, conn.market_data_type)
        conn.send([Out.MARKET_DATA_TYPE, 1, req_id, data_type])
        self.broker.send_quotes(found[0].contract_id, only=conn)

    def _cancel_market_data(self, conn: _Conn, fields: list[str]) -> None:
        conn.subscriptions.pop(int(fields[2]), None)

    def _place_order(self, conn: _Conn, fields: list[str]) -> None:
        contract = dict(zip(_CONTRACT_KEYS, fields[2:14], strict=True))
        self.broker.place(
            conn,  # type: ignore[arg-type]
            PlaceRequest(
                order_id=int(fields[1]), contract=contract, action=fields[16],
                quantity=fields[17], order_type=fields[18], limit_price=fields[19],
                aux_price=fields[20], tif=fields[21], account=fields[23], order_ref=fields[26],
                good_till_date=fields[38],
            ),
        )  # fmt: skip

    def _cancel_order(self, conn: _Conn, fields: list[str]) -> None:
        self.broker.cancel(conn, int(fields[2]))  # type: ignore[arg-type]

    # -- what a gateway does to its clients ------------------------------------------------
    def drop_connections(self, refuse_seconds: float = 0.0) -> None:
        """Close every client's socket; refuse new ones for ``refuse_seconds``."""
        self._refuse_until = time.monotonic() + refuse_seconds
        for conn in list(self._conns):
            self._close_conn(conn)

    def connectivity_lost(self) -> None:
        """The nightly reset begins: 1100, with every socket still up."""
        self._to_all(1100, "Connectivity between IB and Trader Workstation has been lost.")

    def connectivity_restored(self, *, data_lost: bool) -> None:
        """1101 (market data subscriptions lost: resubscribe) or 1102 (kept)."""
        if data_lost:
            with self.broker.lock:
                for conn in self.broker.connections:
                    conn.subscriptions.clear()
            self._to_all(
                1101,
                "Connectivity between IB and Trader Workstation has been restored - data lost.",
            )
        else:
            self._to_all(
                1102,
                "Connectivity between IB and Trader Workstation has been restored - data"
                " maintained.",
            )

    def _to_all(self, code: int, text: str) -> None:
        with self.broker.lock:
            for conn in self.broker.connections:
                conn.send(m.error(-1, code, text))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``condition`` holds; it is checked after every message."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def connected_clients(self) -> set[int]:
        with self.broker.lock:
            return {c.client_id for c in self.broker.connections if c.client_id is not None}
