"""A fake TWS / IB Gateway on loopback, speaking IB's real wire protocol.

Real IB clients (``ib_async``) connect to it and trade against Bastion's simulated
exchange: it keeps orders, executions, positions and the account like the broker does,
and its fault switches reproduce what TWS and the gateway do to clients (``FakeFaults``,
``FakeTws.drop_connections``, ``connectivity_lost`` / ``connectivity_restored``).
"""

from __future__ import annotations

from bastion.testing.fake_tws.broker import FakeBroker, FakeFaults
from bastion.testing.fake_tws.models import FakeContract, FakeExecution, FakeOrder, fake_contract
from bastion.testing.fake_tws.server import FakeTws, FakeTwsConfig

__all__ = [
    "FakeBroker",
    "FakeContract",
    "FakeExecution",
    "FakeFaults",
    "FakeOrder",
    "FakeTws",
    "FakeTwsConfig",
    "fake_contract",
]
