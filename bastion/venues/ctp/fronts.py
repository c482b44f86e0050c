"""Fronts that are not a CTP server: a counter registered in this process.

A profile reaches one with ``front: fake://NAME`` once something in this process has
registered it under ``NAME`` (the test kit's fake counter, ``bastion.testing.fake_ctp``,
for tests and rehearsals). The adapter looks it up here; it never imports the test kit,
and a name nobody registered is refused in one line.
"""

from __future__ import annotations

from typing import Protocol

from bastion.errors import ConfigError
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort

__all__ = ["CounterFront", "fake_front", "register_fake_front", "unregister_fake_front"]


class CounterFront(Protocol):
    """What a registered counter gives the adapter: its two ports."""

    def trader_port(self) -> CtpTraderPort: ...

    def md_port(self) -> CtpMdPort: ...


_FRONTS: dict[str, CounterFront] = {}


def register_fake_front(name: str, counter: CounterFront) -> None:
    _FRONTS[name] = counter


def unregister_fake_front(name: str) -> None:
    _FRONTS.pop(name, None)


def fake_front(name: str) -> CounterFront:
    try:
        return _FRONTS[name]
    except KeyError:
        raise ConfigError(
            f"front fake://{name}: no fake counter is registered under {name!r} in this"
            " process (fake fronts exist only in tests and rehearsals)"
        ) from None
