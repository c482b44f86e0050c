"""The paper venue in its own process (``bastion venue serve``): its state survives a
SIGKILL, bad FIX input never kills a session, and a trade made behind Bastion's back
shows in ``bastion reconcile`` as a break until a balance trade adopts it.

Invariants: after a venue restart the orders, fills and positions are what they were
and the adapter reconnects by itself; garbled input gets a session Reject and the
session answers the next TestRequest; a number too low without PossDup gets a Logout
naming the problem; the reconcile diff names the break and its kind, and clears once
the execution is adopted with an audit note.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ContractId
from bastion.oms.manager import OrderManager
from bastion.recon import balance_trade
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.oms_driver import OmsDriver
from bastion.testing.paper_process import PaperVenueProcess
from bastion.testing.venue_stubs import make_order
from bastion.venues.fix.config import FixConfig
from bastion.venues.fix.execution import FixVenue
from bastion.venues.fix.wire import Framer, decode, encode, text
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS
from tests.conftest import run_cli

ES = next(iter(DEFAULT_CONTRACTS))
SP = ContractId("SP500/202406")
ROOT = Path(__file__).resolve().parents[3]


_Venue = PaperVenueProcess
_ALLOW = tuple(a for c in ("BASTION", "RAW1", "RAW2", "HAND") for a in ("--allow", c))


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[_Venue]:
    v = _Venue(tmp_path / "venue.db", extra=_ALLOW)
    yield v
    v.stop()


def _fix(port: int, sender: str = "BASTION") -> FixVenue:
    fix = FixVenue(
        FixConfig(
            port=port,
            sender_comp_id=sender,
            heartbeat_seconds=2,
            reconnect_initial=0.05,
            reconnect_max=0.5,
            name="paper",
        ),
        dict(DEFAULT_CONTRACTS),
    )
    assert fix.connect()
    deadline = time.monotonic() + 5
    while fix.market.quote(ES) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return fix


def _wait(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_venue_process_restart_keeps_orders_fills_and_positions(venue: _Venue) -> None:
    fix = _fix(venue.port)
    try:
        fix.submit(make_order(Side.BUY, 2, contract_id=ES))
        resting = make_order(Side.BUY, 1, OrderType.LIMIT, limit_ticks=100, contract_id=ES)
        fix.submit(resting)
        assert _wait(lambda: (fix.positions().value or {}).get(ES) is not None)
        before = (
            fix.positions().value,
            [o.client_order_id for o in fix.open_orders().value or ()],
            fix.fills_since(None).value,
        )
        venue.kill()
        assert _wait(lambda: not fix.is_connected)
        restarted = _Venue(venue.state, venue.port, extra=_ALLOW)
        venue.proc = restarted.proc
        assert _wait(lambda: fix.is_connected, 10)
        after = (
            fix.positions().value,
            [o.client_order_id for o in fix.open_orders().value or ()],
            fix.fills_since(None).value,
        )
        assert after == before
        assert before[1] == [resting.client_order_id]
        assert fix.connection_epoch == 2
        assert fix.disconnects == 1
    finally:
        fix.disconnect()


def _raw_logon(port: int, sender: str) -> tuple[socket.socket, Framer]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        encode("A", [(98, 0), (108, 30)], seq=1, sender=sender, target="PAPER", now=_now())
    )
    framer = Framer()
    assert _read_types(sock, framer, "A")
    return sock, framer


def _now():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _read_types(sock: socket.socket, framer: Framer, want: str) -> list[object]:
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        for frame in framer.frames():
            msg = decode(frame.raw)
            seen.append(msg)
            if text(msg, 35) == want:
                return seen
        data = sock.recv(65536)
        if not data:
            break
        framer.feed(data)
    return []


def test_venue_garbled_input_gets_reject_and_session_lives(venue: _Venue) -> None:
    sock, framer = _raw_logon(venue.port, "RAW1")
    with sock:
        bad = encode("D", [(11, "G1")], seq=2, sender="RAW1", target="PAPER", now=_now())
        sock.sendall(bad[:-4] + b"999\x01")
        seen = _read_types(sock, framer, "3")
        assert "garbled" in (text(seen[-1], 58) or "")  # type: ignore[arg-type]
        sock.sendall(encode("1", [(112, "ping")], seq=2, sender="RAW1", target="PAPER", now=_now()))
        seen = _read_types(sock, framer, "0")
        assert [text(m, 112) for m in seen if text(m, 35) == "0"] == ["ping"]  # type: ignore[arg-type]


def test_venue_seq_too_low_without_possdup_logs_out_with_reason(venue: _Venue) -> None:
    sock, framer = _raw_logon(venue.port, "RAW2")
    with sock:
        sock.sendall(encode("0", [], seq=1, sender="RAW2", target="PAPER", now=_now()))
        seen = _read_types(sock, framer, "5")
        assert "too low" in (text(seen[-1], 58) or "")  # type: ignore[arg-type]


def test_reconcile_cli_manual_trade_shows_break_until_balanced(
    venue: _Venue, tmp_path: Path
) -> None:
    # The profile trades what it lists (SP500/202406), and so does this test.
    journal = tmp_path / "runs" / "paper" / "journal.db"
    journal.parent.mkdir(parents=True)
    profile = tmp_path / "paper.yaml"
    profile.write_text(
        (ROOT / "examples" / "paper.yaml")
        .read_text()
        .replace("runs/paper/journal.db", str(journal))
        .replace("port: 9878", f"port: {venue.port}")
    )
    fix, hand = _fix(venue.port), _fix(venue.port, "HAND")
    try:
        store = SqliteStore(journal, mode=StoreMode.LIVE)
        from dataclasses import replace

        from bastion.clock import WallClock
        from bastion.domain.ids import StrategyId

        driver = OmsDriver(fix, OrderManager(store), WallClock())
        driver.send(replace(make_order(Side.BUY, 1, contract_id=SP), strategy_id=StrategyId("ema")))
        assert _wait(
            lambda: (
                (bool(driver.pump()) and store.book.positions.contract_position(SP) == 1)
                or store.book.positions.contract_position(SP) == 1
            )
        )
        clean = run_cli(["reconcile", "--profile", str(profile)])
        assert clean.code == 0, clean.out + clean.err
        assert "reconciliation: CLEAN" in clean.out
        manual = make_order(Side.SELL, 1, contract_id=SP, client_order_id="BY-HAND-1")
        hand.submit(manual)
        assert _wait(lambda: (fix.positions().value or {}).get(SP) is None)
        broken = run_cli(["reconcile", "--profile", str(profile)])
        assert broken.code == 3  # breaks found: a verdict of NO (bastion.cli.exits)
        assert "contract_vs_broker" in broken.out
        assert "fills_vs_broker" in broken.out
        assert "BY-HAND-1" in broken.out
        fill = next(
            f for f in (fix.fills_since(None).value.fills) if f.client_order_id == "BY-HAND-1"
        )  # type: ignore[union-attr]
        balance_trade(
            driver.oms,
            _now(),
            SP,
            -1,
            price_ticks=fill.price_ticks,
            note="sold by hand; desk ticket 7",
            exec_id=fill.exec_id,
            strategy_id=StrategyId("ema"),
        )
        store.close()
        healed = run_cli(["reconcile", "--profile", str(profile)])
        assert healed.code == 0, healed.out
    finally:
        fix.disconnect()
        hand.disconnect()
