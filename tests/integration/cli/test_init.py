"""Invariant: the set-up is part of the product: ``bastion init`` makes a working folder
with a sim profile, a paper profile marked official and a comparison profile, says what
it made, and never overwrites; the profiles it makes validate, their paths are usable,
and a command given no --profile runs the official one (issue 19, item 1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bastion.config import load_profile
from bastion.gates.profiles import resolve_profile
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]


def test_init_empty_folder_makes_profiles_and_says_so(cli: Cli, in_tmp: Path) -> None:
    result = cli(["init", "desk"])
    assert result.code == 0, result.err
    for path in (
        "profiles/paper.yaml",
        "profiles/paper-compare.yaml",
        "profiles/sim.yaml",
        "pools/ema_trend-2024-04.yaml",
        "drop",
    ):
        assert path in result.out
        assert (in_tmp / "desk" / path).exists()
    assert "bastion after-close" in result.out  # and what to run next
    profiles = {p.stem: load_profile(p) for p in (in_tmp / "desk" / "profiles").glob("*.yaml")}
    assert [name for name, p in profiles.items() if p.official] == ["paper"]
    assert profiles["paper"].environment.value == "paper"
    assert profiles["sim"].environment.value == "sim"
    assert profiles["paper"].data.drop_dir == Path("drop")
    resolved = resolve_profile(None, in_tmp / "desk" / "profiles")
    assert resolved.profile.name == "paper"
    assert resolve_profile("paper-compare", in_tmp / "desk" / "profiles").is_comparison


def test_init_pools_are_the_bundled_examples(cli: Cli, in_tmp: Path) -> None:
    assert cli(["init"]).code == 0
    for pool in (REPO / "examples" / "pools").glob("*.yaml"):
        assert (in_tmp / "pools" / pool.name).read_text() == pool.read_text()


def test_init_profiles_validate_with_usable_paths(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(["init", "desk"]).code == 0
    monkeypatch.chdir(in_tmp / "desk")  # the profiles' paths are the working folder's
    for name in ("paper", "paper-compare", "sim"):
        result = cli(["config", "validate", "-p", name, "--json"])
        assert result.code == 0, result.err
        assert json.loads(result.out)["valid"] is True


def test_init_never_overwrites_one_line(cli: Cli, in_tmp: Path) -> None:
    (in_tmp / "profiles").mkdir()
    (in_tmp / "profiles" / "paper.yaml").write_text("mine")
    result = cli(["init"])
    assert result.code == 2
    expected = (
        f"bastion: error: {Path('profiles/paper.yaml')} already exists: bastion init never"
        " overwrites; choose an empty folder (bastion init FOLDER)"
    )
    assert result.err.strip().splitlines() == [expected]
    assert (in_tmp / "profiles" / "paper.yaml").read_text() == "mine"
    assert not (in_tmp / "profiles" / "sim.yaml").exists()


@pytest.mark.parametrize("port", ["0", "70000"])
def test_init_bad_port_one_line(cli: Cli, in_tmp: Path, port: str) -> None:
    result = cli(["init", "--port", port])
    assert result.code == 2
    assert "--port must be 1..65535" in result.err


def test_init_port_from_environment(cli: Cli, in_tmp: Path) -> None:
    assert cli(["init"], env={"BASTION_PAPER_PORT": "19999"}).code == 0
    raw = yaml.safe_load((in_tmp / "profiles" / "paper.yaml").read_text())
    assert raw["venue"]["port"] == 19999


def test_init_folder_runs_official_and_comparison_shadow(cli: Cli, in_tmp: Path) -> None:
    assert cli(["init"]).code == 0
    official = cli(["shadow", "--date", "2024-04-30"])
    assert official.code == 0, official.out + official.err
    assert "profile paper (paper), official profile" in official.out
    compare = cli(["shadow", "-p", "paper-compare", "--date", "2024-04-30"])
    assert compare.code == 0, compare.err
    assert "COMPARISON run" in compare.out


def test_init_paper_profile_has_watchdog_settings_and_commented_alert_targets_that_validate(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official profile carries the watchdog's settings, and its commented alert
    targets, once uncommented, are a valid profile (the operator fills them in)."""
    from bastion.config import load_profile

    assert cli(["init", "desk"]).code == 0
    monkeypatch.chdir(in_tmp / "desk")
    written = Path("profiles/paper.yaml").read_text()
    profile = load_profile(Path("profiles/paper.yaml"))
    watchdog = profile.alerts.watchdog
    assert (watchdog.timeout_seconds, watchdog.cancel_working_orders) == (60, True)
    assert watchdog.trading_hours
    assert profile.alerts.targets == ()  # nothing is sent until the operator says where
    commented = ("# targets:", "#   - ", "# daily_all_clear:", "# timezone:")
    lines = [
        line.replace("# ", "", 1) if line.lstrip().startswith(commented) else line
        for line in written.splitlines()
    ]
    Path("profiles/paper.yaml").write_text("\n".join(lines) + "\n")
    result = cli(["config", "validate", "-p", "paper", "--json"])
    assert result.code == 0, result.err
    filled = load_profile(Path("profiles/paper.yaml"))
    assert [t.name for t in filled.alerts.targets] == ["phone", "desk"]
    assert filled.alerts.targets[0].url_env == "BASTION_ALERT_URL"
    assert filled.alerts.daily_all_clear is not None
    sim = Path("profiles/sim.yaml").read_text()
    head, sep, block = sim.partition("# alerts:")
    assert sep, "the sim profile has no commented alerts section"
    uncommented = "alerts:" + "\n".join(
        " " + ln[1:] if ln.startswith("#") else ln for ln in block.splitlines()
    )
    Path("profiles/sim.yaml").write_text(head + uncommented + "\n")
    result = cli(["config", "validate", "-p", "sim", "--json"])
    assert result.code == 0, result.err
    assert [t.name for t in load_profile(Path("profiles/sim.yaml")).alerts.targets] == ["desk"]


def test_init_sim_profile_has_a_rate_for_every_instruments_currency(cli: Cli, in_tmp: Path) -> None:
    """A sim session trades on the profile's fixed rates: an instrument in a currency
    without one opens nothing all session (rb in CNY was refused every bar)."""
    from bastion.marketdata.specs import SpecRegistry

    assert cli(["init", "desk"]).code == 0
    specs = SpecRegistry.bundled()
    for path in (in_tmp / "desk" / "profiles" / "sim.yaml", REPO / "examples" / "sim.yaml"):
        profile = load_profile(path)
        for instrument in profile.instruments:
            currency = specs[instrument].contract.currency
            assert currency == profile.currency or currency in profile.fx.rates, (
                f"{path.name}: {instrument} trades in {currency}, no fx.rates.{currency}"
            )
