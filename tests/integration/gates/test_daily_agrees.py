"""Invariant: the daily report agrees with itself (issue 19, item 4): its headline and its
next step come from one decision, so a NO never ends with "orders may go" or "start the
session", in every state the day passes through (no plan, no gate, blocked, a session
after the gate); a NO exits with status 3 and a YES with 0."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
GO_WORDS = ("may go", "start the session")


def _daily(cli: Cli) -> tuple[int, str, str]:
    result = cli(["report", "daily", "--json"])
    data = json.loads(result.out)
    assert data["exit_code"] == result.code
    return result.code, data["headline"], data["next_step"]


def _agrees(code: int, headline: str, next_step: str) -> None:
    if headline.startswith("YES"):
        assert code == 0
        return
    assert code == 3, headline
    assert not any(word in next_step for word in GO_WORDS), (headline, next_step)


def test_daily_report_headline_and_next_step_agree_all_day(cli: Cli, day: Path) -> None:
    states = [_daily(cli)]  # no plan
    assert cli(["shadow", "--date", "2024-04-30"]).code == 0
    states.append(_daily(cli))  # no gate
    assert cli(["gate", "dry-run"]).code == 3
    states.append(_daily(cli))  # blocked: no snapshot
    assert cli(["probe"]).code == 0
    assert cli(["gate", "dry-run"]).code == 0
    go = _daily(cli)
    assert go[1].startswith("YES: tonight's orders may go")
    states.append(go)
    session = cli(["session", "--end", "2024-02-05"])
    assert session.code == 0, session.err
    after = _daily(cli)  # the observation: NO "... a session ran after it", next step "may go"
    assert after[1].startswith("NO: executable")
    assert "a session ran after it" in after[1]
    assert after[2].startswith("re-run 'bastion probe' and 'bastion gate dry-run'")
    states.append(after)
    for state in states:
        _agrees(*state)
    text = cli(["report", "daily"]).out
    assert text.rstrip().splitlines()[-1] == f"next step: {after[2]}"
