"""The kernel: one engine for every mode, with one door to the venue.

``build_engine`` (``kernel``) builds the engine from a configuration and a venue;
``Engine`` (``engine``) runs one pass of every duty per ``iterate``; ``OrderGateway``
(``send``) is the only path to a venue's order calls; ``TradingDays`` (``days``) ends
each trading day by its exchange calendar; ``EngineLock`` (``lock``) keeps one engine
per store; ``kill_now`` (``requests``) reaches a running engine from another process.
"""

from bastion.engine.engine import Engine, EngineState, Heartbeat
from bastion.engine.kernel import EngineConfig, build_engine, config_from_profile
from bastion.engine.lock import EngineLock, EngineLockedError
from bastion.engine.send import OrderGateway

__all__ = [
    "Engine",
    "EngineConfig",
    "EngineLock",
    "EngineLockedError",
    "EngineState",
    "Heartbeat",
    "OrderGateway",
    "build_engine",
    "config_from_profile",
]
