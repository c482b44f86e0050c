"""Invariant: a pool file is validated strictly (one-line errors naming the field), the
daily run uses the pool of the target date's period exactly as written (never
re-ranked), a pool older than its period is marked stale, and a plan's actions and
"opens" follow the sign and size of the position change (R3.3, R3.4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bastion.errors import ConfigError, UserError
from bastion.strategy.plan import Action, classify, load_plan, opens, save_plan
from bastion.strategy.pool import choose_pool, load_pool, period_bounds, pool_signal
from tests.unit.gates.kit import plan

GOOD = {
    "strategy_line": "ema_trend",
    "cadence": "monthly",
    "period": "2024-04",
    "source": "test ranking",
    "risk_level": "base",
    "lots": {"SP500": 2},
    "parameter_sets": [
        {"name": "fast", "model": "ema_cross", "fast": 2, "slow": 4, "weight": 0.75},
        {"name": "bias", "model": "constant", "position": -1.0, "weight": 0.25},
    ],
}


def _write(folder: Path, name: str, **changes: object) -> Path:
    raw = {**GOOD, **changes}
    path = folder / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"period": "2024-13"}, "period '2024-13' is not a month; expected YYYY-MM"),
        ({"cadence": "daily"}, "cadence: got 'daily', expected input should be"),
        ({"lots": {}}, "lots: got {}"),
        ({"surprise": 1}, "unknown key 'surprise'"),
        ({"source": ""}, "source: got ''"),
        (
            {
                "parameter_sets": [
                    {"name": "a", "model": "ema_cross", "fast": 4, "slow": 2, "weight": 1}
                ]
            },
            "fast 4 must be below slow 2",
        ),
        (
            {
                "parameter_sets": [
                    {"name": "a", "model": "constant", "position": 0.5, "weight": 0.5}
                ]
            },
            "weights sum to 0.5, expected 1",
        ),
        (
            {"parameter_sets": [{"name": "a", "model": "constant", "weight": 1}]},
            "constant needs position",
        ),
    ],
)
def test_pool_bad_file_one_line_error(
    tmp_path: Path, changes: dict[str, object], expected: str
) -> None:
    path = _write(tmp_path, "p.yaml", **changes)
    with pytest.raises(ConfigError) as info:
        load_pool(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_pool_not_yaml_mapping_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys, got list"):
        load_pool(path)


@pytest.mark.parametrize(
    ("cadence", "period", "first", "last"),
    [
        ("monthly", "2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("monthly", "2024-12", dt.date(2024, 12, 1), dt.date(2024, 12, 31)),
        ("quarterly", "2024Q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
        ("weekly", "2024-W01", dt.date(2024, 1, 1), dt.date(2024, 1, 7)),
    ],
)
def test_pool_period_bounds_by_cadence(
    cadence: str, period: str, first: dt.date, last: dt.date
) -> None:
    assert period_bounds(cadence, period) == (first, last)


def test_pool_current_period_chosen_not_stale(tmp_path: Path) -> None:
    _write(tmp_path, "march.yaml", period="2024-03")
    _write(tmp_path, "april.yaml")
    choice = choose_pool(tmp_path, "ema_trend", dt.date(2024, 4, 15))
    assert (choice.pool.period, choice.stale) == ("2024-04", False)
    march = choose_pool(tmp_path, "ema_trend", dt.date(2024, 3, 15))
    assert march.pool.period == "2024-03"


def test_pool_past_its_period_stale_with_reason(tmp_path: Path) -> None:
    _write(tmp_path, "april.yaml")
    choice = choose_pool(tmp_path, "ema_trend", dt.date(2024, 5, 2))
    assert choice.stale
    assert choice.why == (
        "pool period 2024-04 ended 2024-04-30; the target date 2024-05-02 needs the next"
        " monthly pool"
    )


def test_pool_only_future_pools_refused(tmp_path: Path) -> None:
    _write(tmp_path, "april.yaml")
    with pytest.raises(ConfigError, match="starts 2024-04-01, after the target date 2024-03-29"):
        choose_pool(tmp_path, "ema_trend", dt.date(2024, 3, 29))


def test_pool_other_strategy_line_refused(tmp_path: Path) -> None:
    _write(tmp_path, "april.yaml")
    with pytest.raises(ConfigError, match="no pool for strategy line 'vol_target'"):
        choose_pool(tmp_path, "vol_target", dt.date(2024, 4, 2))


def test_pool_signal_uses_written_weights_never_reranked(tmp_path: Path) -> None:
    path = _write(tmp_path, "april.yaml")
    before = path.read_bytes()
    pool = load_pool(path)
    rising = [float(x) for x in range(1, 11)]
    merged, notes = pool_signal(pool, rising)
    # ema_cross is +1 on a rising series, the constant set says -1: 0.75 - 0.25.
    assert merged.forecast == pytest.approx(0.5)
    assert [(c.name, c.weight) for c in merged.contributions] == [("fast", 0.75), ("bias", 0.25)]
    assert notes == []
    assert path.read_bytes() == before


def test_pool_signal_short_history_gives_zero_with_note(tmp_path: Path) -> None:
    pool = load_pool(_write(tmp_path, "april.yaml"))
    merged, notes = pool_signal(pool, [1.0, 2.0])
    assert merged.forecast == pytest.approx(-0.25)
    assert notes == ["fast: 2 closes, needs 4; position 0"]


@pytest.mark.parametrize(
    ("previous", "target", "action"),
    [
        (0, 2, Action.OPEN),
        (2, 3, Action.INCREASE),
        (3, 1, Action.REDUCE),
        (2, 0, Action.CLOSE),
        (2, -1, Action.REVERSE),
        (-2, -2, Action.HOLD),
    ],
)
def test_plan_action_from_previous_and_target(previous: int, target: int, action: Action) -> None:
    assert classify(previous, target) is action


@pytest.mark.parametrize(
    ("held", "target", "expected"),
    [
        (0, 1, True),
        (1, 2, True),
        (2, 1, False),
        (2, 0, False),
        (2, -1, True),
        (-2, -3, True),
        (1, 1, False),
    ],
)
def test_plan_opens_when_exposure_grows_or_flips(held: int, target: int, expected: bool) -> None:
    assert opens(held, target) is expected


def test_plan_round_trip_and_bad_files_one_line(tmp_path: Path) -> None:
    path = save_plan(plan(), tmp_path)
    assert load_plan(path) == plan()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not readable JSON"):
        load_plan(bad)
    bad.write_text('{"plan_version": 99}')
    with pytest.raises(UserError, match="plan_version 99, expected 1"):
        load_plan(bad)
    bad.write_text('{"plan_version": 1, "profile": "x"}')
    with pytest.raises(UserError, match=r"signal plan .*: role: missing"):
        load_plan(bad)
    with pytest.raises(UserError, match="no such file; run 'bastion shadow' first"):
        load_plan(tmp_path / "absent.json")
