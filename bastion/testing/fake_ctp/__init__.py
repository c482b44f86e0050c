"""A deterministic fake CTP counter for tests and rehearsals (``FakeCtpCounter``).

The adapter reaches it through the same narrow ports as the real binding
(``bastion.venues.ctp.port``); its callbacks are real ``openctp_ctp`` structs delivered
to the adapter's real Spi. A profile reaches one with ``front: fake://NAME`` once a
counter is registered in this process under ``NAME`` (``register_fake_front``): that is
how the CLI runs the operator's day against it in tests.
"""

from __future__ import annotations

from bastion.testing.fake_ctp.counter import FakeCtpCounter, FakeFaults, FakeInstrument
from bastion.testing.fake_ctp.ports import FakeMdApi, FakeTraderApi
from bastion.venues.ctp.fronts import fake_front, register_fake_front, unregister_fake_front

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
