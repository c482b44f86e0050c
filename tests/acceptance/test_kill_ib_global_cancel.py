"""Acceptance (issue 17, operator commands on IB): IB orders belong to the client id that
placed them. When no engine runs and a connection that will not go away holds the
engine's client id (a hung process, TWS keeping a dead session), ``bastion kill`` is
refused at connect in one line that names the way out; ``bastion kill --global-cancel
CANCEL_EVERY_ORDER_IN_THE_ACCOUNT`` then cancels every order in the account from the
kill's own client id, through the one send path (journaled), and flattens: flat at the
fake TWS. A wrong phrase is refused in one line before anything connects."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.domain.ids import ContractId
from bastion.domain.records import Note
from bastion.engine.requests import GLOBAL_CANCEL_PHRASE
from bastion.marketdata.sample import write_sample
from bastion.marketdata.specs import SpecRegistry
from bastion.store import SqliteStore
from bastion.testing.fake_tws import FakeTws, FakeTwsConfig, fake_contract
from bastion.venues.ib.execution import GLOBAL_CANCEL_CONFIRMATION
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]
SP500 = ContractId("SP500/202406")


@pytest.fixture
def tws(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTws]:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    write_sample(in_tmp / "bastion-data")
    spec = SpecRegistry.bundled()["SP500"].contract
    fake = FakeTws(
        FakeTwsConfig(
            contracts=[fake_contract(SP500, spec, con_id=551601561, last_trade_day="21")],
            accounts=("DU1234567",),
            start_prices={SP500: 21684},
            tick_seconds=0.05,
        )
    ).start()
    profile = (REPO / "examples" / "ib-paper.yaml").read_text()
    profile = profile.replace("port: 7497 ", f"port: {fake.port} ")
    profile = profile.replace("risk:\n", "risk:\n  expiry_guard_days: 0\n")
    (in_tmp / "ib.yaml").write_text(profile)
    try:
        yield fake
    finally:
        fake.stop()


def test_the_phrases_agree() -> None:
    assert GLOBAL_CANCEL_PHRASE == GLOBAL_CANCEL_CONFIRMATION


def test_kill_with_the_engines_client_id_held_then_global_cancel_flattens(
    cli: Cli, tws: FakeTws
) -> None:
    broker = tws.broker
    # The engine (client 10) left a position and a resting order, and its id is held.
    broker.place_foreign(SP500, "BUY", 2, client_id=10)
    broker.place_foreign(
        SP500, "BUY", 1, client_id=10, order_type="LMT", limit_price=Decimal("4000.00")
    )
    assert [q for _, q in broker.positions()] == [2]
    assert any(o.working for o in broker.orders.values())
    broker.faults.clients_in_use.add(10)

    stuck = cli(["kill", "-p", "ib.yaml", "--reason", "drill", "--timeout", "3", "--wait", "5"])
    assert stuck.code == 2, stuck.out + stuck.err  # refused at connect, in one line
    assert len(stuck.err.strip().splitlines()) == 1
    assert "(error 326)" in stuck.err
    assert f"--global-cancel {GLOBAL_CANCEL_PHRASE}" in stuck.err
    assert "account HALTED and kill requested" in stuck.err  # fail closed: halted anyway
    status = cli(["risk", "status", "-p", "ib.yaml"])
    assert "HALTED" in status.out
    assert "kill" in status.out.lower()

    wrong = cli(["kill", "-p", "ib.yaml", "--reason", "drill", "--global-cancel", "yes"])
    assert wrong.code == 2
    assert len(wrong.err.strip().splitlines()) == 1
    assert GLOBAL_CANCEL_PHRASE in wrong.err

    done = cli(
        ["kill", "-p", "ib.yaml", "--reason", "drill", "--global-cancel", GLOBAL_CANCEL_PHRASE]
    )
    assert done.code == 0, done.out + done.err
    assert "flat confirmed" in done.out
    assert broker.positions() == [] or all(q == 0 for _, q in broker.positions())
    assert not any(o.working for o in broker.orders.values())
    assert 17 in tws.connects  # the kill's own client id (base 10 + 7)
    with SqliteStore(Path("runs/paper/journal.db")) as store:
        notes = [e.record for e in store.entries() if isinstance(e.record, Note)]
    assert any(n.kind == "cancel.global" for n in notes)


def test_global_cancel_refused_while_an_engine_runs_and_for_other_venue_kinds(
    cli: Cli, tws: FakeTws, in_tmp: Path
) -> None:
    """Refused in one line before anything connects: while an engine runs (it runs the
    kill itself), for a venue kind without a global cancel, and with the wrong phrase."""
    from bastion.config import load_profile
    from bastion.engine.lock import EngineLock

    (in_tmp / "paper.yaml").write_text((REPO / "examples" / "paper.yaml").read_text())
    other = cli(
        ["kill", "-p", "paper.yaml", "--reason", "drill", "--global-cancel", GLOBAL_CANCEL_PHRASE]
    )
    assert other.code == 2, other.out + other.err
    assert "has no global cancel" in other.err
    wrong = cli(["kill", "-p", "ib.yaml", "--reason", "drill", "--global-cancel", "yes"])
    assert wrong.code == 2
    assert GLOBAL_CANCEL_PHRASE in wrong.err
    journal = load_profile(in_tmp / "ib.yaml").store.path
    with EngineLock.acquire(journal, "ib-paper", role="engine"):
        running = cli(
            ["kill", "-p", "ib.yaml", "--reason", "drill", "--global-cancel", GLOBAL_CANCEL_PHRASE]
        )
    assert running.code == 2
    assert "an engine runs" in running.err
    for done in (other, wrong, running):
        assert len(done.err.strip().splitlines()) == 1, done.err
        assert "Traceback" not in done.err
    assert not tws.broker.received  # nothing reached the fake TWS
