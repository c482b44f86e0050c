"""Invariant: the alerts block is strict and keeps secrets out of files and output. The
example in docs/alerts.md is a valid profile block; an unquoted time or an unknown zone
is one clear error; the redactor every record and log uses masks the alert URLs."""

from __future__ import annotations

import re

import pytest
import yaml

from bastion.config import AlertsConfig, parse_profile
from bastion.errors import ConfigError
from bastion.ops.records import redactor_for
from tests.conftest import REPO

BASE = {
    "name": "p",
    "environment": "paper",
    "strategy_line": "s",
    "capital": 1,
    "account": "PAPER-000001",
    "instruments": ["SP500"],
    "store": {"path": "runs/paper/journal.db"},
    "venue": {"kind": "fix", "contracts": ["SP500/202406"]},
}


def _docs_block() -> dict[str, object]:
    text = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(alerts:.*?)```", text, re.DOTALL)
    assert block is not None
    loaded = yaml.safe_load(block.group(1))
    assert isinstance(loaded, dict)
    return loaded


def test_alerts_docs_example_is_a_valid_profile_block() -> None:
    profile = parse_profile({**BASE, **_docs_block()}, "docs")
    alerts = profile.alerts
    assert [t.name for t in alerts.targets] == ["phone", "desk-mail", "intranet"]
    assert alerts.watchdog.cancel_working_orders
    assert str(alerts.daily_all_clear) == "22:30:00"


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"daily_all_clear": 1350}, "in quotes"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        (
            {"targets": [{"name": "a", "url": "json://h/x"}, {"name": "a", "url": "json://h/y"}]},
            "unique",
        ),
        ({"targets": [{"name": "a", "url": "slack://T/B/C"}]}, "url_env"),
        ({"min_severity": "loud"}, "min_severity"),
    ],
)
def test_alerts_bad_values_are_one_line_errors(alerts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_profile({**BASE, "alerts": alerts}, "test")
    assert "\n" not in str(caught.value)


def test_redactor_masks_alert_urls_named_by_the_profile() -> None:
    profile = parse_profile(
        {**BASE, "alerts": {"targets": [{"name": "phone", "url_env": "BASTION_PAPER_PHONE"}]}},
        "test",
    )
    redact = redactor_for(profile, {"BASTION_PAPER_PHONE": "tgram://123:SECRET/456"})
    assert redact("sent via tgram://123:SECRET/456 for PAPER-000001") == (
        "sent via *** for PA*******001"
    )


def test_alerts_default_is_no_targets() -> None:
    assert AlertsConfig().targets == ()
