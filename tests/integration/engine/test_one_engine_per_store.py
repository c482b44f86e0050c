"""Invariant: one engine per store (issue "Nothing lost, nothing twice", item 3).

- a second engine the kernel builds on a journal another engine holds is refused in one
  line naming the holder, and the first engine keeps trading and writing its journal
  (the old failure: the first died with ``UNIQUE constraint failed: journal.seq``);
- a lock left by a process that died (SIGKILL) is taken over by the next engine, and
  the journal says from whom;
- ``bastion session`` on a store an engine holds refuses in one line, with no
  traceback, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bastion.backtest.build import BACKTEST_RISK
from bastion.clock import SimClock
from bastion.config import load_profile
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.records import Note
from bastion.engine.engine import Engine, EngineState
from bastion.engine.kernel import EngineConfig, build_engine, config_from_profile
from bastion.engine.lock import EngineLockedError
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.store import SqliteStore
from bastion.testing.venue_stubs import quote
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.conftest import REPO, run_cli

SP500 = InstrumentId("SP500")
SP_SPEC = SpecRegistry.bundled()[SP500].contract
SP_H = ContractId("SP500/202406")
MONDAY = dt.datetime(2024, 3, 4, 20, tzinfo=dt.UTC)


def _engine(journal: Path, clock: SimClock) -> tuple[Engine, SimVenue]:
    sim = SimVenue({SP_H: SP_SPEC}, clock, SimVenueConfig())
    sim.connect()
    sim.on_quote(quote(20000, 20001, at=clock.now(), contract_id=SP_H))
    config = EngineConfig(
        risk=BACKTEST_RISK,
        specs={SP500: SP_SPEC},
        schedule=FixedSchedule(contracts={SP500: SP_H}),
        store_path=journal,
        risk_level=("base", "test"),
        profile_name="test",
    )
    return build_engine(config, sim, clock), sim


def _notes(journal: Path, kind: str) -> list[Note]:
    with SqliteStore(journal) as store:
        records = [e.record for e in store.entries()]
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def test_second_engine_on_a_store_refused_naming_the_holder_first_unharmed(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.db"
    clock = SimClock(MONDAY)
    first, _ = _engine(journal, clock)
    first.iterate(targets_for("s", {"SP500": 1}, MONDAY))
    with pytest.raises(EngineLockedError) as refused:
        _engine(journal, clock)
    line = str(refused.value)
    assert "\n" not in line
    assert f"pid {os.getpid()}" in line or str(os.getpid()) in line
    assert "one engine per store" in line
    for _ in range(5):
        clock.advance(dt.timedelta(seconds=1))
        first.iterate()
    assert first.state() is EngineState.TRADING
    assert first.oms.book.positions.contract_position(SP_H) == 1
    first.close()
    again, _ = _engine(journal, clock)  # released at a clean stop: the next one starts
    again.close()


_HOLD = """
import sys
from pathlib import Path
from bastion.engine.lock import EngineLock
lock = EngineLock.acquire(Path(sys.argv[1]), "test", role="engine")
print("held", flush=True)
sys.stdin.read()
"""


def test_lock_of_a_killed_engine_taken_over_and_journaled(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(EngineLockedError):
                _engine(journal, SimClock(MONDAY))
        finally:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=60)
    engine, _ = _engine(journal, SimClock(MONDAY))
    engine.close()
    taken = _notes(journal, "engine.lock")
    assert len(taken) == 1
    assert str(holder.pid) in taken[0].text
    assert "gone" in taken[0].text


@pytest.fixture
def sim_profile(in_tmp: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    raw = yaml.safe_load((in_tmp / "examples" / "sim.yaml").read_text())
    path = in_tmp / "sim.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_session_refused_while_an_engine_holds_the_store(
    sim_profile: Path,
) -> None:
    profile = load_profile(sim_profile)
    specs = SpecRegistry.bundled()
    holder = build_engine(
        config_from_profile(
            profile, {i: specs[i].contract for i in (SP500,)}, FixedSchedule(contracts={})
        ),
        SimVenue({SP_H: SP_SPEC}, SimClock(MONDAY), SimVenueConfig()),
        SimClock(MONDAY),
    )
    try:
        before = sum(1 for _ in holder.store.entries())
        done = run_cli(["session", "-p", str(sim_profile)])
        assert done.code != 0, done.out
        assert "Traceback" not in done.err
        assert len(done.err.strip().splitlines()) == 1, done.err
        assert "one engine per store" in done.err
        assert f"{os.getpid()}" in done.err
        assert sum(1 for _ in holder.store.entries()) == before
    finally:
        holder.close()
