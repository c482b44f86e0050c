"""The one table of exit codes every ``bastion`` command uses (issue 16, item 1).

===  ===========  =======================================================================
0    success      done; a go; clean; nothing stale
1    environment  the environment failed: a file or folder that cannot be read or written,
                  a full disk, a damaged journal, an unreachable venue, a missing locale
                  or library
2    user input   the arguments, the profile or a data file are wrong
3    verdict NO   a blocked gate, breaks found, stale input, a daily report saying NO, a
                  session refused because the gate has not approved its plan
===  ===========  =======================================================================

Every error that is not a bug is one line on stderr (``bastion: error: ...``) with
status 1 or 2. A verdict of NO is the command's normal output (the reason included)
with status 3, so a script can tell "no" from "broken": ``bastion after-close || ...``.
Anything else (status 1 with a traceback) is a bug in Bastion.
"""

from __future__ import annotations

from enum import IntEnum

import typer

__all__ = ["EXIT_TABLE", "ExitCode", "verdict_no"]


class ExitCode(IntEnum):
    SUCCESS = 0
    ENVIRONMENT = 1
    USER_INPUT = 2
    VERDICT_NO = 3


EXIT_TABLE: tuple[tuple[ExitCode, str, str], ...] = (
    (ExitCode.SUCCESS, "success", "done; a go; clean; nothing stale"),
    (
        ExitCode.ENVIRONMENT,
        "environment failed",
        (
            "a file or folder that cannot be read or written, a full disk, a damaged journal,"
            " an unreachable venue, a missing locale or library"
        ),
    ),
    (
        ExitCode.USER_INPUT,
        "user input wrong",
        "the arguments, the profile or a data file are wrong",
    ),
    (
        ExitCode.VERDICT_NO,
        "a verdict of NO",
        (
            "a blocked gate, breaks found, stale input, a daily report saying NO, a session"
            " whose plan the gate has not approved"
        ),
    ),
)
"""Code, name and meaning: the table the docs show (``bastion.docgen``)."""


def verdict_no() -> typer.Exit:
    """The exit of a command whose answer is NO (it has printed the reason)."""
    return typer.Exit(int(ExitCode.VERDICT_NO))
