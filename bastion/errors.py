"""Bastion's exception hierarchy.

    BastionError                      every error Bastion raises on purpose
    ├── UserError                     bad input from a person or a file: one line, exit 2
    │   ├── ConfigError               a profile or config value is wrong (R1.4)
    │   └── DataError                 a data file is malformed, unsorted, off-tick, ...
    ├── EnvironmentFault              the environment failed (disk, files): one line, exit 1
    │   ├── JournalUnusable           a journal on disk cannot be used (also a JournalError)
    │   └── JournalWriteFailed        the disk refused a journal write (also a JournalError)
    └── InvariantError                Bastion's own view is inconsistent: fail closed
        ├── IllegalTransition         (state, event) pair not in the order state table
        ├── OverfillError             fills would exceed the order quantity
        └── JournalError              the journal could not be written or read
            ├── JournalUnusable       damaged, not a journal, or a zero-byte file
            └── JournalWriteFailed    a full disk, a file size limit, a read-only mount

User errors are caught by the CLI and printed as one line on stderr with exit status 2;
environment faults likewise with exit status 1 (the table of exit codes is in
``bastion.cli.exits``; a verdict of NO is status 3). Invariant errors stop trading for what
they concern; they are never silently ignored.
"""

from __future__ import annotations

__all__ = [
    "BastionError",
    "ConfigError",
    "DataError",
    "EnvironmentFault",
    "IllegalTransition",
    "InvariantError",
    "JournalError",
    "JournalUnusable",
    "JournalWriteFailed",
    "OverfillError",
    "UserError",
]


class BastionError(Exception):
    """Base of every error Bastion raises on purpose."""


class UserError(BastionError):
    """Bad input from a person or a file. The message is one line, shown as is."""


class ConfigError(UserError):
    """A profile or configuration value is wrong."""


class DataError(UserError):
    """A data file is malformed or violates a rule (columns, order, ticks)."""


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


class EnvironmentFault(BastionError):  # noqa: N818 - a fault of the environment, not Bastion
    """The environment failed: a file that cannot be read or written, a full disk, a
    journal damaged on disk. The message is one line naming the path and the problem."""


class JournalUnusable(JournalError, EnvironmentFault):  # noqa: N818 - the name says what is wrong
    """A journal file that is damaged, is not a Bastion journal, or has zero bytes.

    Nothing was changed; the message points to the runbook and the restore command.
    ``path`` and ``problem`` say which file and what is wrong with it.
    """

    def __init__(self, message: str, *, path: object = None, problem: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem or message


class JournalWriteFailed(JournalError, EnvironmentFault):  # noqa: N818 - the name says what happened
    """The disk refused a journal write: full, a file size limit, a read-only mount.

    The transaction was rolled back: every record committed before it is kept, nothing
    half-written. The store refuses further writes; the process stops (fail closed).
    """

    def __init__(self, message: str, *, path: object = None, problem: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.problem = problem or message
