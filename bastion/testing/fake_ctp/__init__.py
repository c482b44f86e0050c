"""A deterministic fake CTP counter for tests and rehearsals (``FakeCtpCounter``).

The adapter reaches it through the same narrow ports as the real binding
(``bastion.venues.ctp.port``); its callbacks are real ``openctp_ctp`` structs delivered
to the adapter's real Spi. A profile reaches one with ``front: fake://NAME`` once a
counter is registered in this process under ``NAME`` (``register_fake_front``): that is
how the CLI runs the operator's day against it in tests.
"""

from __future__ import annotations

from bastion.errors import ConfigError
from bastion.testing.fake_ctp.counter import FakeCtpCounter, FakeFaults, FakeInstrument
from bastion.testing.fake_ctp.ports import FakeMdApi, FakeTraderApi

__all__ = [
    "FakeCtpCounter",
    "FakeFaults",
    "FakeInstrument",
    "FakeMdApi",
    "FakeTraderApi",
    "fake_front",
    "register_fake_front",
    "unregister_fake_front",
]

_FRONTS: dict[str, FakeCtpCounter] = {}


def register_fake_front(name: str, counter: FakeCtpCounter) -> None:
    _FRONTS[name] = counter


def unregister_fake_front(name: str) -> None:
    _FRONTS.pop(name, None)


def fake_front(name: str) -> FakeCtpCounter:
    try:
        return _FRONTS[name]
    except KeyError:
        raise ConfigError(
            f"front fake://{name}: no fake counter is registered under {name!r} in this"
            " process (fake fronts exist only in tests and rehearsals)"
        ) from None
