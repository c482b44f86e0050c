"""Invariant: a bad profile is refused before anything connects, with one line on stderr
naming the field, the bad value and the expected form, and exit status 2 (R1.2-R1.4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, CliResult

EXAMPLE = REPO / "examples" / "sim.yaml"


def _profile(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def test_config_validate_example_passes(cli: Callable[..., CliResult]) -> None:
    result = cli(["config", "validate", str(EXAMPLE)])
    assert result.code == 0, result.err
    assert "valid" in result.out


def test_config_validate_unknown_key_named(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    line = _one_line_error(cli(["config", "validate", str(_profile(tmp_path, risk__max_lots=3))]))
    assert "unknown key 'risk.max_lots'" in line


def test_config_validate_wrong_type_names_field_value_expectation(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    line = _one_line_error(
        cli(["config", "validate", str(_profile(tmp_path, risk__max_order_lots="lots"))])
    )
    assert "risk.max_order_lots" in line
    assert "'lots'" in line
    assert "expected" in line
    assert "integer" in line


def test_config_validate_missing_field_named(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    line = _one_line_error(cli(["config", "validate", str(_profile(tmp_path, capital=None))]))
    assert "capital: missing" in line


def test_config_validate_live_port_under_paper_profile_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = _profile(
        tmp_path,
        environment="paper",
        account="DU1234567",
        venue={"kind": "ib", "port": 7496, "client_id": 3},
        store__path="runs/paper/journal.db",
    )
    line = _one_line_error(cli(["config", "validate", str(path)]))
    assert "7496 is an IB live port" in line


def test_config_validate_paper_port_under_live_profile_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = _profile(
        tmp_path,
        environment="live",
        account="U1234567",
        venue={"kind": "ib", "port": 4002},
        store__path="runs/live/journal.db",
    )
    assert "4002 is an IB paper port" in _one_line_error(cli(["config", "validate", str(path)]))


def test_config_validate_secret_written_in_file_refused_without_echo(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = _profile(tmp_path, venue__password="hunter2-very-secret")  # noqa: S106 - a planted fake
    line = _one_line_error(cli(["config", "validate", str(path)]))
    assert "venue.password holds a secret in the file" in line
    assert "password_env" in line
    assert "hunter2" not in line


def test_config_validate_live_credentials_under_paper_profile_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = _profile(
        tmp_path,
        environment="paper",
        account="DU1234567",
        venue={"kind": "ib", "port": 4002, "password_env": "BASTION_LIVE_IB_PASSWORD"},
        store__path="runs/paper/journal.db",
    )
    line = _one_line_error(cli(["config", "validate", str(path)]))
    assert "names the live environment" in line


def test_config_validate_shared_store_across_environments_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = _profile(tmp_path, store__path="runs/live/journal.db")
    line = _one_line_error(cli(["config", "validate", str(path)]))
    assert "does not name the environment 'sim'" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: [unclosed", "expected valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("", "expected a mapping"),
    ],
)
def test_config_validate_malformed_file_one_line(
    cli: Callable[..., CliResult], tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert expected in _one_line_error(cli(["config", "validate", str(path)]))


def test_config_validate_missing_file_one_line(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    assert "no such file" in _one_line_error(cli(["config", "validate", str(tmp_path / "x.yaml")]))


def test_config_show_masks_account(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    path = _profile(tmp_path, account="SIM-98765432")
    result = cli(["config", "show", str(path)])
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert "98765432" not in result.out
    assert shown["account"].endswith("432")
    assert shown["risk"]["max_order_lots"] == 10


def test_config_schema_is_json_schema(cli: Callable[..., CliResult]) -> None:
    result = cli(["config", "schema"])
    schema = json.loads(result.out)
    assert schema["additionalProperties"] is False
    assert "environment" in schema["required"]
