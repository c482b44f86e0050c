"""Contract specs load from shipped data, cover every required exchange, and map
exchange symbols to contract ids and back without loss; bad spec files are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.errors import DataError
from bastion.marketdata.specs import SpecRegistry, parse_venue_symbol, venue_symbol

REQUIRED_EXCHANGES = {
    "CME", "CBOT", "NYMEX", "COMEX", "ICE", "EUREX", "SHFE", "DCE", "CZCE", "CFFEX", "INE", "GFEX",
}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> SpecRegistry:
    return SpecRegistry.bundled()


def test_bundled_specs_every_required_exchange_present(registry: SpecRegistry) -> None:
    assert {s.exchange for s in registry.values()} >= REQUIRED_EXCHANGES


def test_bundled_specs_china_products_have_night_sessions_where_listed(
    registry: SpecRegistry,
) -> None:
    assert registry["au"].has_night_session
    assert registry["rb"].has_night_session
    assert not registry["IF"].has_night_session
    assert registry["rb"].tick_size == Decimal(1)
    assert registry["SP500"].contract.symbol_root == "ES"


@pytest.mark.parametrize(
    ("instrument", "expiry", "symbol"),
    [
        ("SP500", "202512", "ESZ5"),
        ("rb", "202510", "rb2510"),
        ("MA", "202609", "MA609"),
        ("IF", "202506", "IF2506"),
        ("EUROSTX", "202603", "FESXH6"),
        ("sc", "202601", "sc2601"),
    ],
)
def test_venue_symbol_exchange_rules_round_trip(
    registry: SpecRegistry, instrument: str, expiry: str, symbol: str
) -> None:
    assert venue_symbol(registry[instrument], expiry) == symbol
    assert parse_venue_symbol(registry, symbol, dt.date(2025, 6, 1)) == f"{instrument}/{expiry}"


def test_parse_venue_symbol_one_digit_year_resolves_near_reference(registry: SpecRegistry) -> None:
    assert parse_venue_symbol(registry, "ESH4", dt.date(2025, 6, 1)) == "SP500/202403"
    assert parse_venue_symbol(registry, "ESH3", dt.date(2025, 6, 1)) == "SP500/203303"
    assert parse_venue_symbol(registry, "MA001", dt.date(2029, 12, 1)) == "MA/203001"


@pytest.mark.parametrize("symbol", ["XX2510", "rb25", "RB2510", "ma609", "rb2513"])
def test_parse_venue_symbol_unknown_or_malformed_raises(
    registry: SpecRegistry, symbol: str
) -> None:
    with pytest.raises(DataError, match="unknown contract symbol"):
        parse_venue_symbol(registry, symbol, dt.date(2025, 6, 1))


def test_registry_unknown_instrument_raises_data_error(registry: SpecRegistry) -> None:
    with pytest.raises(DataError, match="unknown instrument 'NOPE'"):
        registry["NOPE"]


def test_user_spec_file_adds_and_overrides(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text(
        "exchanges:\n  SHFE:\n"
        "    rb: {tick_size: '2', multiplier: '10', currency: CNY, timezone: Asia/Shanghai,"
        " calendar: CN_FUTURES, symbol_style: yymm_lower}\n"
        "    zz: {tick_size: '0.5', multiplier: '7', currency: CNY, timezone: Asia/Shanghai,"
        " calendar: CN_FUTURES, symbol_style: yymm_lower, sessions: ['09:00-15:00']}\n",
        encoding="utf-8",
    )
    registry = SpecRegistry.load([user])
    assert registry["rb"].tick_size == Decimal(2)
    assert registry["zz"].contract.multiplier == Decimal(7)
    assert "cu" in registry


_HEAD = (
    "defaults: {currency: USD, timezone: UTC, calendar: CMES, symbol_style: month_code,"
    " multiplier: '1'}\nexchanges:\n  X:\n    a: "
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exchanges: [1, 2]", "'exchanges' section"),
        ("exchanges:\n  X:\n    a: {tick_size: '1'}", "missing keys"),
        (_HEAD + "{tick_size: 0.1}", "must be quoted"),
        (_HEAD + "{tick_size: '1', colour: red}", "unknown keys"),
        (_HEAD + "{tick_size: '1', sessions: ['9-5']}", "HH:MM-HH:MM"),
        (_HEAD + "{tick_size: '-1'}", "tick size must be"),
        ("exchanges: {X: {a: {tick_size: '1'}}\n  bad", "not valid YAML"),
    ],
)
def test_user_spec_file_bad_content_raises_with_file_and_key(
    tmp_path: Path, body: str, message: str
) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        SpecRegistry.load([user])
    assert "bad.yaml" in str(info.value)


def test_user_spec_file_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read spec file"):
        SpecRegistry.load([tmp_path / "absent.yaml"])
