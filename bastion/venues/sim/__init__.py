"""The simulated venue: a deterministic matching engine with first-class fault injection.

Layout (the adapter skeleton): ``config`` (strict frozen config), ``market_data``
(quotes, trades, bars, market state), ``parsing`` (orders in, refusals out),
``matching`` (the fill model), ``accounts`` (books, cash, margin), ``engine`` and
``feed`` (the exchange side), ``faults`` (injection), ``execution`` (``SimVenue``, the
``VenuePort``), ``errors``. ``docs/sim-venue.md`` describes the model.
"""

from bastion.venues.sim.config import (
    FaultConfig,
    FaultKind,
    HaltPolicy,
    ScheduledFault,
    SimVenueConfig,
    SlippageConfig,
    SlippageKind,
    load_sim_config,
)
from bastion.venues.sim.engine import always_open
from bastion.venues.sim.execution import SimVenue
from bastion.venues.sim.market_data import Bar, Quote, Trade

__all__ = [
    "Bar",
    "FaultConfig",
    "FaultKind",
    "HaltPolicy",
    "Quote",
    "ScheduledFault",
    "SimVenue",
    "SimVenueConfig",
    "SlippageConfig",
    "SlippageKind",
    "Trade",
    "always_open",
    "load_sim_config",
]
