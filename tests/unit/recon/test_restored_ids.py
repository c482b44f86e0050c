"""Invariant: after a restore, only client order ids of Bastion's own stack are taken in
as Bastion's (a stack id with or without a restore generation); a trade by hand,
another client's order, a kill, a balance trade or a correcting order never is."""

from __future__ import annotations

import pytest

from bastion.recon.restored import is_bastion_order_id


@pytest.mark.parametrize("coid", ["C4-2.1", "C1.4-2.1", "R12-3.2", "M7-1.1", "C12.340-17.3"])
def test_bastion_order_id_stack_ids_recognised(coid: str) -> None:
    assert is_bastion_order_id(coid)


@pytest.mark.parametrize(
    "coid",
    [
        "I4-1",  # an instrument order never reaches the venue
        "C4-2",  # a contract order, not one of its broker orders
        "KILL-20240301T140000-1-SP500/202406",
        "balance:e1",
        "correct:SP500/202406@2024-03-01T14:00:00+00:00",
        "SMOKE-20240301T140000000000",
        "foreign:client-7/order-3",
        "manual-123",
        "C4-2.1x",
    ],
)
def test_bastion_order_id_other_ids_not_recognised(coid: str) -> None:
    assert not is_bastion_order_id(coid)
