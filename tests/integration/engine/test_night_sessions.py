"""Invariants of China trading days through the engine, in a backtest and a sim session
(``run_session`` on small synthetic SHFE rebar bars with night-session timestamps):

- a night session (21:00-23:00 Beijing) belongs to the next trading day, and Friday
  night to Monday: the loss limits' day during Friday night is Monday, Friday night's
  P&L is Monday's daily return, and no Friday, Saturday or Sunday point is kept;
- a DAY order placed in Friday's night session is still working at Monday's opening
  (past UTC midnight and past the calendar day's end) and is gone at Monday's 15:00
  close, not before;
- the evening before a long holiday has no night session: Thursday 8 February 2024's
  close (before the Spring Festival) ends that trading day, and the next bars' day is
  Monday 19 February.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml

from bastion.backtest.session import run_session
from bastion.config import load_profile
from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId, StrategyId
from bastion.domain.records import BrokerOrderCreated
from bastion.domain.requests import OrderPath, OrderRequest
from bastion.engine.engine import Engine, Heartbeat
from bastion.errors import UserError
from bastion.marketdata.bars import BarStore
from tests.conftest import REPO

RB = InstrumentId("rb")
RB_K = ContractId("rb/202405")
NIGHT = StrategyId("night")
BJ = dt.timezone(dt.timedelta(hours=8))  # China has no daylight saving time
MINUTE = dt.timedelta(minutes=1)


def _bj(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BJ).astimezone(dt.UTC)


def _minutes(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    out, ts = [], start
    while ts < end:
        out.append(ts)
        ts += MINUTE
    return out


def _write_bars(data: Path, prices: list[tuple[dt.datetime, int]]) -> None:
    frame = pl.DataFrame(
        {
            "ts": [ts for ts, _ in prices],
            "open_ticks": [p for _, p in prices],
            "high_ticks": [p + 1 for _, p in prices],
            "low_ticks": [p - 1 for _, p in prices],
            "close_ticks": [p for _, p in prices],
            "volume": [100] * len(prices),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    BarStore(data).write(RB_K, "1m", frame)


def _profile(in_tmp: Path) -> Path:
    """The example sim profile trading only rb, on the synthetic bars in
    ``bastion-data`` (no sample data); its strategy never trades (no roll calendar to
    price rb by), the test's orders do."""
    shutil.copytree(REPO / "examples", in_tmp / "examples")
    raw = yaml.safe_load((in_tmp / "examples" / "sim.yaml").read_text())
    raw.update(instruments=["rb"], strategy_line="hold", currency="CNY", fx={})
    raw["data"] = {"dir": "bastion-data", "sample": False}
    path = in_tmp / "examples" / "night.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class Watch:
    """Buys 5 lots at the first pass and places a resting DAY order at ``place_at``,
    both through the engine's one send path; keeps at each pass the loss limits' day
    and whether that DAY order is still working."""

    place_at: dt.datetime
    passes: list[tuple[dt.datetime, str | None, bool]] = field(default_factory=list)
    order: ClientOrderId | None = None
    bought: bool = False

    def attach(self, engine: Engine) -> None:
        def after_pass(_beat: Heartbeat) -> None:
            now = engine.clock.now()
            if not self.bought:
                self.bought = True
                self._send(engine, now, "NIGHT-BUY-5", 5, OrderType.MARKET, None)
            if self.order is None and now >= self.place_at:
                self.order = self._place(engine, now)
            working = self.order is not None and self.order in engine.oms.book.broker_orders
            self.passes.append((now, engine.risk.loss.status().day, working))

        engine.pass_listeners.append(after_pass)

    def _place(self, engine: Engine, now: dt.datetime) -> ClientOrderId:
        """A resting DAY buy well under the market."""
        last = engine.risk.market.quote(RB_K)
        assert last is not None
        assert last.bid_ticks is not None
        return self._send(engine, now, "NIGHT-DAY-1", 1, OrderType.LIMIT, last.bid_ticks - 60)

    @staticmethod
    def _send(  # noqa: PLR0917 - one order's fields
        engine: Engine, now: dt.datetime, coid: str, lots: int, kind: OrderType, limit: int | None
    ) -> ClientOrderId:
        """A DAY buy for the strategy ``night`` through the engine's one send path."""
        order = BrokerOrderCreated(
            client_order_id=ClientOrderId(coid),
            contract_id=RB_K,
            side=Side.BUY,
            quantity=lots,
            order_type=kind,
            timestamp=now,
            time_in_force=TimeInForce.DAY,
            limit_ticks=limit,
            strategy_id=NIGHT,
        )
        result = engine.gateway.send(OrderRequest(order, OrderPath.MANUAL, RB, NIGHT))
        assert result.outcome.name == "SENT", result
        return ClientOrderId(coid)


FRIDAY = dt.date(2024, 3, 8)
MONDAY = dt.date(2024, 3, 11)
TUESDAY = dt.date(2024, 3, 12)


@pytest.mark.parametrize("kind", ["backtest", "session"])
def test_friday_night_belongs_to_monday_in_orders_loss_days_and_returns(
    in_tmp: Path, kind: str
) -> None:
    # Friday night rises 40 ticks; Monday and Tuesday do not move.
    friday_night = _minutes(_bj(FRIDAY, 21), _bj(FRIDAY, 23))
    rising = [(ts, 3500 + min(i, 40)) for i, ts in enumerate(friday_night)]
    flat = 3540
    later = [
        *_minutes(_bj(MONDAY, 9), _bj(MONDAY, 10, 15)),
        *_minutes(_bj(MONDAY, 13, 30), _bj(MONDAY, 15)),
        *_minutes(_bj(MONDAY, 21), _bj(MONDAY, 22)),  # Tuesday's night session
        *_minutes(_bj(TUESDAY, 9), _bj(TUESDAY, 10)),
    ]
    _write_bars(in_tmp / "bastion-data", [*rising, *((ts, flat) for ts in later)])
    profile = load_profile(_profile(in_tmp))
    watch = Watch(place_at=_bj(FRIDAY, 21, 30))
    result = run_session(profile, kind=kind, start=FRIDAY, end=TUESDAY, attach=watch.attach)

    # The loss limits' day in Friday's night session is Monday.
    night = [day for when, day, _ in watch.passes if when <= _bj(FRIDAY, 23)]
    assert night
    assert set(night) == {"2024-03-11"}, set(night)
    # One equity point per trading day: Monday (with Friday night in it) and Tuesday.
    assert result.days == [MONDAY, TUESDAY], result.days
    assert result.positions == {str(RB_K): 5}, (result.problems, result.orders, result.fills)
    # Bought at the second bar's open (3501), marked at 3540: 39 ticks x 10 CNY x 5 lots
    # less the commission, all of it Monday's; Tuesday did not move.
    assert result.commissions is not None
    gain = 39 * 10 * 5 - result.commissions
    assert Decimal(str(result.equity[0][1])) - profile.capital == gain
    assert result.equity[1][1] == result.equity[0][1]

    # The DAY order from Friday night still works at Monday's opening, and is gone
    # once Monday's 15:00 close has passed, not before.
    assert watch.order is not None
    working = [when for when, _, live in watch.passes if live]
    gone = [when for when, _, live in watch.passes if not live and when > watch.place_at]
    assert any(when > _bj(MONDAY, 9) for when in working), "expired before Monday opened"
    assert max(working) < _bj(MONDAY, 15)
    assert min(gone) >= _bj(MONDAY, 15)


def test_session_days_are_trading_days_friday_night_in_monday(in_tmp: Path) -> None:
    """``--start``/``--end`` name the account's trading days: Monday alone holds
    Friday's night session and not Monday's own (which is Tuesday's)."""
    friday_night = _minutes(_bj(FRIDAY, 21), _bj(FRIDAY, 23))
    # (Monday's bars stop a minute before its close: data ending exactly at a close
    # still gets a point for the next day, see finish_session.)
    monday = [*_minutes(_bj(MONDAY, 9), _bj(MONDAY, 10, 15)),
              *_minutes(_bj(MONDAY, 13, 30), _bj(MONDAY, 14, 58))]  # fmt: skip
    tuesday_night = _minutes(_bj(MONDAY, 21), _bj(MONDAY, 22))
    prices = [(ts, 3500 + i) for i, ts in enumerate([*friday_night, *monday, *tuesday_night])]
    _write_bars(in_tmp / "bastion-data", prices)
    profile = load_profile(_profile(in_tmp))
    result = run_session(profile, kind="backtest", start=MONDAY, end=MONDAY)
    assert result.bars == len(friday_night) + len(monday), result.bars
    assert result.days == [MONDAY], result.days
    # A weekend holds no trading day, so no bars (Friday night is Monday's).
    with pytest.raises(UserError, match="no bars between 2024-03-09 and 2024-03-10"):
        run_session(profile, kind="backtest", start=dt.date(2024, 3, 9), end=dt.date(2024, 3, 10))
    # From Saturday on: Monday, with Friday night.
    weekend_start = run_session(profile, kind="backtest", start=dt.date(2024, 3, 9), end=MONDAY)
    assert weekend_start.bars == result.bars


def test_no_night_session_before_the_spring_festival(in_tmp: Path) -> None:
    thursday, after = dt.date(2024, 2, 8), dt.date(2024, 2, 19)
    day_session = _minutes(_bj(thursday, 14), _bj(thursday, 15))
    next_open = _minutes(_bj(after, 9), _bj(after, 10))
    _write_bars(in_tmp / "bastion-data", [(ts, 3500) for ts in [*day_session, *next_open]])
    profile = load_profile(_profile(in_tmp))
    watch = Watch(place_at=_bj(thursday, 14, 30))
    result = run_session(profile, kind="session", start=thursday, end=after, attach=watch.attach)
    # The DAY order placed Thursday afternoon ends at Thursday's close: Thursday evening
    # holds no night session for the 19th.
    working = [when for when, _, live in watch.passes if live]
    assert working
    assert max(working) < _bj(thursday, 15)
    days = {day for _, day, _ in watch.passes}
    assert days == {"2024-02-08", "2024-02-19"}, days
    assert result.days == [thursday, after], result.days
