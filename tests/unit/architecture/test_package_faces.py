"""Invariant: every name a package or module lists in ``__all__`` can be imported from
it (a package's face never points at a module that moved or no longer exists)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bastion

# Adapters whose optional library may be absent are imported only when installed.
_OPTIONAL = {"bastion.venues.ib", "bastion.venues.ctp"}


def _modules() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(bastion.__path__, "bastion."):
        if any(info.name == o or info.name.startswith(o + ".") for o in _OPTIONAL):
            continue
        if info.name.endswith("__main__"):
            continue
        found.append(info.name)
    return sorted(found)


@pytest.mark.parametrize("name", _modules())
def test_package_face_every_listed_name_imports(name: str) -> None:
    module = importlib.import_module(name)
    for listed in getattr(module, "__all__", ()):
        assert getattr(module, listed) is not None, f"{name}.{listed}"
