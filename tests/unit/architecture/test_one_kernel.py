"""Invariant: one kernel builds the engine. In the package, ``RiskEngine(...)`` and
``OrderManager(...)`` are constructed only in ``bastion/engine/kernel.py`` and in the
test kit (``bastion/testing``, which assembles parts for component tests); every mode
(backtest, sim session, venue session, smoke, flatten, kill, recovery) gets its engine
from the kernel."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "bastion"
BUILT_ONLY_BY_THE_KERNEL = {"RiskEngine", "OrderManager"}
ALLOWED = {PACKAGE / "engine" / "kernel.py"}


def _constructs(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in BUILT_ONLY_BY_THE_KERNEL:
                found.add(name)
    return found


def test_one_kernel_only_the_kernel_and_the_test_kit_build_the_engines_core() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(names)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in ALLOWED
        and (PACKAGE / "testing") not in path.parents
        and (names := _constructs(path))
    }
    assert offenders == {}


def test_one_kernel_the_check_sees_the_kernels_own_constructions() -> None:
    assert _constructs(PACKAGE / "engine" / "kernel.py") == BUILT_ONLY_BY_THE_KERNEL
