"""Bastion's exception hierarchy.

    BastionError                      every error Bastion raises on purpose
    ├── UserError                     bad input from a person or a file: one line, exit 2
    │   ├── ConfigError               a profile or config value is wrong (R1.4)
    │   ├── DataError                 a data file is malformed, unsorted, off-tick, ...
    │   └── EnvironmentSetupError     the machine lacks something (a locale, a library): exit 1
    └── InvariantError                Bastion's own view is inconsistent: fail closed
        ├── IllegalTransition         (state, event) pair not in the order state table
        ├── OverfillError             fills would exceed the order quantity
        └── JournalError              the journal could not be written or read

User errors are caught by the CLI and printed as one line on stderr with their
``exit_code``: 2 for bad input, 1 for an environment problem.
Invariant errors stop trading for what they concern; they are never silently ignored.
"""

from __future__ import annotations

__all__ = [
    "BastionError",
    "ConfigError",
    "DataError",
    "EnvironmentSetupError",
    "IllegalTransition",
    "InvariantError",
    "JournalError",
    "OverfillError",
    "UserError",
]


class BastionError(Exception):
    """Base of every error Bastion raises on purpose."""


class UserError(BastionError):
    """Bad input from a person or a file. The message is one line, shown as is."""

    exit_code: int = 2


class ConfigError(UserError):
    """A profile or configuration value is wrong."""


class DataError(UserError):
    """A data file is malformed or violates a rule (columns, order, ticks)."""


class EnvironmentSetupError(UserError):
    """The machine lacks something Bastion needs (a locale, a runtime library); the
    message says how to fix it."""

    exit_code = 1


class InvariantError(BastionError):
    """Bastion's own state is inconsistent; whatever it concerns must stop trading."""


class IllegalTransition(InvariantError):  # noqa: N818 - the name says what happened
    """An order event arrived that the state table does not allow in this state."""

    def __init__(self, state: object, event: object) -> None:
        self.state = state
        self.event = event
        super().__init__(f"illegal order transition: event {event} in state {state}")


class OverfillError(InvariantError):
    """Fills would take an order's filled quantity above its quantity."""


class JournalError(InvariantError):
    """The journal could not be written or read consistently."""
