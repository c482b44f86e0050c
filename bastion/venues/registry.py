"""Venues by registry: each venue package says how to build itself from a profile.

Adding a venue is one package (``bastion/venues/<kind>/``) whose ``profile`` module
defines ``BUILDER`` (a ``VenueBuilder``), and one line in ``pyproject.toml`` under
``[project.entry-points."bastion.venues"]`` (read through ``importlib.metadata``, so the
profile's validation can list the kinds without importing any venue). Nothing in the
application layer branches on the venue kind: the kernel, the gates and the CLI ask the
registry. Builder modules are imported only when their kind is used, so an adapter's
optional library (ib_async, openctp-ctp) is loaded only by profiles that need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from bastion.config import VENUE_GROUP, registered_venues
from bastion.errors import ConfigError

if TYPE_CHECKING:
    from bastion.clock import Clock
    from bastion.config import Profile
    from bastion.domain.contracts import ContractSpec
    from bastion.domain.ids import ContractId
    from bastion.venues.port import VenuePort

__all__ = [
    "REGISTRY",
    "VENUE_GROUP",
    "VenueBuilder",
    "builder_for",
    "open_venue",
    "profile_contracts",
    "registered_kinds",
]


def _registry() -> dict[str, str]:
    """Venue kind -> the module whose ``BUILDER`` builds it (the entry points)."""
    return {kind: target.split(":", 1)[0] for kind, target in registered_venues().items()}


REGISTRY = _registry()
"""Venue kind -> builder module, from the ``bastion.venues`` entry points."""


class VenueBuilder(Protocol):
    """How one kind of venue is built from a profile."""

    def contracts(self, profile: Profile) -> dict[ContractId, ContractSpec]:
        """The contracts this profile trades at the venue, with their specs: from the
        profile (or the venue's own list), never another venue's defaults."""
        ...

    def build(self, profile: Profile, role: str, clock: Clock, *, timeout: float) -> VenuePort:
        """The venue, not yet connected. ``role`` names this process's session (engine,
        probe, gate, smoke, watch, reconcile, flatten), so a running engine keeps its own."""
        ...


def registered_kinds() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def builder_for(kind: str) -> VenueBuilder:
    module = REGISTRY.get(kind)
    if module is None:
        raise ConfigError(
            f"venue kind {kind!r} has no registered builder; registered kinds:"
            f" {', '.join(registered_kinds())}"
        )
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"venue kind {kind!r}: its adapter cannot be loaded ({exc}); install the extra"
            f" it needs: pip install 'bastion[{kind}]'"
        ) from None
    builder: VenueBuilder = loaded.BUILDER
    return builder


def open_venue(profile: Profile, role: str, clock: Clock, *, timeout: float = 5.0) -> VenuePort:
    """The profile's venue, built by its kind's registered builder (not yet connected)."""
    return builder_for(profile.venue.kind).build(profile, role, clock, timeout=timeout)


def profile_contracts(profile: Profile) -> dict[ContractId, ContractSpec]:
    """The contracts the profile trades at its venue, with their specs."""
    return builder_for(profile.venue.kind).contracts(profile)
