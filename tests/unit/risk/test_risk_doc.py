"""Invariant: the trading-state table in docs/risk.md is the one the code enforces, and
every check the engine can name is documented."""

from __future__ import annotations

from bastion.risk.checks import Check
from bastion.risk.states import render_table
from tests.conftest import REPO

DOC = (REPO / "docs" / "risk.md").read_text(encoding="utf-8")


def test_risk_doc_state_table_equals_code() -> None:
    start = DOC.index("<!-- state-table -->") + len("<!-- state-table -->")
    end = DOC.index("<!-- /state-table -->")
    assert DOC[start:end].strip() == render_table()


def test_risk_doc_names_every_check() -> None:
    missing = [c.value for c in Check if f"`{c.value}`" not in DOC]
    assert missing == []
