"""Invariant (R2.2, issue 15): until next year's China calendar is present, a Chinese
instrument's orders are refused with one line naming the missing year and the command
that fixes it; ``bastion data calendar import`` adds the year (validated, its source
recorded) and the same engine setup trades again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.clock import SimClock
from bastion.config import RiskConfig
from bastion.domain.enums import OrderType, Side
from bastion.domain.ids import ClientOrderId, ContractId, InstrumentId
from bastion.domain.market import MarketQuote, StaticMarket
from bastion.domain.records import BrokerOrderCreated
from bastion.engine.kernel import EngineConfig, build_engine
from bastion.marketdata.calendars import use_operator_calendars
from bastion.marketdata.specs import SpecRegistry
from bastion.orders.rolls import FixedSchedule
from bastion.risk.checks import Check
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision
from bastion.venues.sim import SimVenue, SimVenueConfig
from tests.conftest import run_cli

RB = InstrumentId("rb")
MAY = ContractId("rb/202705")
WHEN = dt.datetime(2027, 1, 4, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai, a Monday
YEAR = """\
calendar: CN_FUTURES
year: 2027
source: State Council notice of 2026 (test copy)
closed: [2027-01-01 New Year's Day, 2027-02-08 Spring Festival]
makeup_workdays: [2027-02-20]
"""


@pytest.fixture(autouse=True)
def _bundled_only() -> object:
    use_operator_calendars(None)
    yield
    use_operator_calendars(None)


def _check_rb() -> RiskDecision:
    spec = SpecRegistry.bundled()["rb"].contract
    clock = SimClock(WHEN)
    market = StaticMarket()
    market.set(MarketQuote(MAY, 3799, 3801, 3800, WHEN, settlement_ticks=3800))
    venue = SimVenue({MAY: spec}, clock, SimVenueConfig(currency="CNY"))
    config = EngineConfig(
        risk=RiskConfig(max_notional=Decimal(10**9)),
        specs={RB: spec},
        schedule=FixedSchedule(contracts={RB: MAY}),
        store_path=":memory:",
        market=market,
        risk_level=("base", "test"),
    )
    engine = build_engine(config, venue, clock)
    engine.risk.equity = Decimal(10**7)
    try:
        order = BrokerOrderCreated(
            timestamp=WHEN,
            client_order_id=ClientOrderId("CAL-1"),
            contract_id=MAY,
            side=Side.BUY,
            quantity=1,
            order_type=OrderType.MARKET,
            venue=venue.name,
        )
        return engine.risk.check(OrderRequest(order, OrderPath.AUTOMATIC, RB))
    finally:
        engine.close()


def test_china_year_missing_refuses_then_import_trades(tmp_path: Path) -> None:
    refused = _check_rb()
    assert refused.check == Check.CALENDAR
    assert "no China futures calendar for 2027" in refused.message
    assert "'bastion data calendar import FILE'" in refused.message
    assert "\n" not in refused.message
    year = tmp_path / "china-2027.yaml"
    year.write_text(YEAR)
    data = tmp_path / "data"
    done = run_cli(["data", "calendar", "import", str(year), "--data-dir", str(data)])
    assert done.code == 0, done.err
    assert "imported China futures calendar 2027" in done.out
    assert "1 make-up weekend working day(s) (exchange holidays)" in done.out
    assert "the calendar now covers to 2027-12-31" in done.out
    shown = run_cli(["data", "calendar", "show", "--data-dir", str(data)])
    assert "2004-01-01 to 2027-12-31" in shown.out
    assert "source: State Council notice of 2026 (test copy)" in shown.out
    use_operator_calendars(data)
    assert _check_rb().allowed


def test_calendar_import_bad_file_one_line_exit_2(tmp_path: Path) -> None:
    year = tmp_path / "china-2027.yaml"
    year.write_text(YEAR.replace("[2027-02-20]", "[2027-02-22]"))
    result = run_cli(["data", "calendar", "import", str(year), "--data-dir", str(tmp_path)])
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert "makeup_workdays 2027-02-22 is a Monday" in lines[0]
    assert not (tmp_path / "calendars").exists()


def test_fx_import_cli_writes_dated_rates(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate,date,source\nCNY,0.1385,2024-04-30,PBOC central parity\n")
    result = run_cli(
        ["data", "fx", "import", str(rates), "--base", "USD", "--data-dir", str(tmp_path)]
    )
    assert result.code == 0, result.err
    assert "CNY: 0.1385 USD per CNY, dated 2024-04-30" in result.out
    assert (tmp_path / "fx" / "rates.yaml").exists()
