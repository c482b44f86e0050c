"""Invariant: the reference docs generated from code are committed as the code says."""

from __future__ import annotations

import pytest

from bastion.docgen.__main__ import GENERATED
from tests.conftest import REPO


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_doc_matches_code(name: str) -> None:
    committed = (REPO / "docs" / name).read_text(encoding="utf-8")
    assert committed == GENERATED[name](), f"docs/{name} is stale: run python -m bastion.docgen"
