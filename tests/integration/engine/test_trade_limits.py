"""Invariants of the daily trade limits (R4.3), wired from the profile's risk limits:

- the lots an instrument trades per day never exceed ``risk.max_traded_lots_per_day``
  (or ``risk.instrument_traded_lots_per_day.X``), and the day is the account's trading
  day, not the UTC date: lots traded in Friday's China night session count toward
  Monday, and Monday's night session starts Tuesday's allowance;
- the same limit holds in a backtest and a sim session run from a profile, and a cut
  is reported;
- the limits are validated like every other: bounded, per-instrument keys only for the
  profile's instruments, and settable at run time with ``bastion risk limits --set``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from bastion.backtest.build import BACKTEST_RISK
from bastion.backtest.session import run_session
from bastion.clock import SimClock
from bastion.config import load_profile
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.records import FillRecorded
from bastion.engine.days import calendars_for
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.errors import ConfigError
from bastion.marketdata.specs import SpecRegistry
from bastion.ops.paper import targets_for
from bastion.orders.rolls import FixedSchedule
from bastion.store import SqliteStore, StoreMode
from bastion.testing.venue_stubs import quote
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.conftest import REPO

RB = InstrumentId("rb")
RB_SPEC = SpecRegistry.bundled()[RB].contract
RB_K = ContractId("rb/202405")
BJ = dt.timezone(dt.timedelta(hours=8))


def _bj(y: int, m: int, d: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hour, minute, tzinfo=BJ).astimezone(dt.UTC)


def _held(sim: SimVenue) -> int:
    snap = sim.positions()
    assert snap.value is not None
    row = snap.value.get(RB_K)
    return 0 if row is None else row.net


FRIDAY_NIGHT = _bj(2024, 3, 8, 21, 30)


class _Desk:
    """The kernel's engine on a sim venue listing rebar, with a 4-lot daily limit."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = SimClock(FRIDAY_NIGHT)
        self.sim = SimVenue(
            {RB_K: RB_SPEC}, self.clock, SimVenueConfig(initial_cash=10**9, currency="CNY")
        )
        self.sim.connect()
        self.config = EngineConfig(
            risk=BACKTEST_RISK.model_copy(update={"max_traded_lots_per_day": 4}),
            specs={RB: RB_SPEC},
            schedule=FixedSchedule(contracts={RB: RB_K}),
            store_path=tmp_path / "journal.db",
            durability=StoreMode.LIVE,
            risk_level=("base", "test"),
            account_every=dt.timedelta(0),
            calendars=calendars_for({RB: RB_SPEC}),
        )
        self.engine = build_engine(self.config, self.sim, self.clock)

    def restart(self) -> None:
        self.engine.close()
        self.engine = build_engine(self.config, self.sim, self.clock)

    def trade_toward(self, lots: int, at: dt.datetime) -> int:
        """Twenty one-second passes toward ``lots`` from ``at``; the venue's position."""
        self.clock.advance_to(at)
        wanted = targets_for("s", {"rb": lots}, at)
        for _ in range(20):
            self.clock.advance(dt.timedelta(seconds=1))
            self.sim.on_quote(quote(3500, 3501, at=self.clock.now(), contract_id=RB_K))
            self.engine.iterate(wanted)
        return _held(self.sim)


def test_trade_limit_counts_per_trading_day_friday_night_toward_monday(tmp_path: Path) -> None:
    desk = _Desk(tmp_path)
    assert desk.trade_toward(3, FRIDAY_NIGHT) == 3  # Monday's trading day: 3 of its 4 lots
    assert desk.trade_toward(6, _bj(2024, 3, 11, 9, 30)) == 4  # Monday morning: 1 lot left
    assert any("trade limit for rb reached today" in p for p in desk.engine.stack.problems)
    assert desk.trade_toward(6, _bj(2024, 3, 11, 21, 30)) == 6  # Monday night is Tuesday's
    desk.engine.close()


def test_trade_limit_survives_a_restart_mid_day(tmp_path: Path) -> None:
    """The day's lots are counted again from the journal: a restart does not give them back."""
    desk = _Desk(tmp_path)
    assert desk.trade_toward(3, FRIDAY_NIGHT) == 3  # Monday's trading day: 3 of its 4 lots
    desk.restart()  # within the same trading day
    held = desk.trade_toward(6, _bj(2024, 3, 11, 9, 30))
    assert held == 4, "the restart gave the day's traded lots back"
    assert any("trade limit for rb reached today" in p for p in desk.engine.stack.problems)
    desk.engine.close()


@pytest.fixture
def sim_profile(in_tmp: Path) -> Path:
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    return in_tmp / "examples" / "sim.yaml"


def _with(path: Path, **risk: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw["risk"].update(risk)
    out = path.with_name("limited.yaml")
    out.write_text(yaml.safe_dump(raw))
    return out


@pytest.mark.parametrize("kind", ["backtest", "session"])
def test_trade_limits_from_the_profile_hold_per_account_day(sim_profile: Path, kind: str) -> None:
    profile = load_profile(
        _with(sim_profile, max_traded_lots_per_day=3, instrument_traded_lots_per_day={"rb": 2})
    )
    result = run_session(profile, kind=kind, end=dt.date(2024, 2, 9))
    assert any("trade limit for" in p for p in result.problems), result.problems
    with SqliteStore(profile.store.path) as store:
        entries = [e.record for e in store.entries()]
    calendar = calendars_for({InstrumentId("SP500"): SpecRegistry.bundled()["SP500"].contract})
    account_day = calendar[InstrumentId("SP500")].trading_day_of
    traded: dict[tuple[str, dt.date], int] = defaultdict(int)
    for record in entries:
        if isinstance(record, FillRecorded):
            fill = record.fill
            instrument = fill.contract_id.split("/", 1)[0]
            traded[instrument, account_day(fill.timestamp)] += fill.quantity
    assert traded, "nothing traded"
    limit = {"SP500": 3, "rb": 2}
    assert all(lots <= limit[iid] for (iid, _), lots in traded.items()), dict(traded)
    assert max(traded.values()) == 3  # the limit is reached, not merely never approached


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        ({"max_traded_lots_per_day": -1}, "got -1, expected greater than or equal to 0"),
        ({"max_traded_lots_per_day": 10**7}, "less than or equal to 1000000"),
        ({"instrument_traded_lots_per_day": {"ES": 2}}, "ES not in instruments"),
    ],
)
def test_trade_limits_out_of_bounds_are_refused(
    sim_profile: Path, risk: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_profile(_with(sim_profile, **risk))


def test_trade_limits_default_to_no_limit(sim_profile: Path) -> None:
    risk = load_profile(sim_profile).risk
    assert risk.max_traded_lots_per_day is None
    assert risk.instrument_traded_lots_per_day == {}
