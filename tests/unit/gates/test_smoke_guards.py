"""Invariant: a CTP profile's smoke order is guarded by CTP operators' own flag and phrase;
every other venue kind keeps Bastion's pair, which the smoke gate already uses."""

from __future__ import annotations

from bastion.gates import smoke
from bastion.gates.smoke_guards import DEFAULT_GUARD, smoke_guard
from bastion.venues.registry import registered_kinds


def test_smoke_guard_ctp_uses_the_ctp_operators_names() -> None:
    flag, phrase = smoke_guard("ctp")
    assert flag == "CTP_SMOKE_ORDER_ENABLED"
    assert phrase == "I_UNDERSTAND_THIS_SENDS_CTP_TEST_ORDERS"


def test_smoke_guard_other_kinds_keep_the_default_pair() -> None:
    for kind in registered_kinds():
        if kind != "ctp":
            assert smoke_guard(kind) == DEFAULT_GUARD
    assert smoke_guard("not-a-kind") == DEFAULT_GUARD


def test_smoke_guard_default_pair_is_the_one_the_smoke_gate_checks() -> None:
    assert DEFAULT_GUARD == (smoke.ENABLE_VAR, smoke.CONFIRM_PHRASE)
