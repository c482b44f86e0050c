"""Loading the CTP binding without letting it kill the process.

``openctp-ctp`` calls ``std::locale("zh_CN.GB18030")`` while its module loads. On a
machine without that locale the C++ runtime throws, nothing catches it, and Python
aborts (exit 134): no ``try``/``except`` can stop it. So before the binding is imported
in this process, a child Python imports it first (``check_runtime``); only when the
child survived is the binding imported here (``load_binding``). A missing locale, a
missing package, or an abort for another reason is an ``EnvironmentFault``: one line
saying what is wrong and how to fix it (exit status 1).

The child's verdict is kept for the life of the process (one check per process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from types import ModuleType

from bastion.errors import EnvironmentFault

__all__ = ["LOCALE", "Binding", "check_runtime", "load_binding"]

LOCALE = "zh_CN.GB18030"
MAKE_LOCALE = f"localedef -i zh_CN -f GB18030 {LOCALE}"
_LOCALE_MISSING = 3
_PACKAGE_MISSING = 4

_PROBE = f"""
import locale, sys
try:
    locale.setlocale(locale.LC_CTYPE, {LOCALE!r})
except locale.Error:
    sys.exit({_LOCALE_MISSING})
try:
    import openctp_ctp.thosttraderapi, openctp_ctp.thostmduserapi
except ImportError:
    sys.exit({_PACKAGE_MISSING})
"""

_verdict: list[str | None] = []


def _problem(returncode: int, stderr: str) -> str | None:
    if returncode == 0:
        return None
    if returncode == _LOCALE_MISSING:
        return (
            f"the CTP binding needs the {LOCALE} locale, which this machine lacks (without it"
            f" the binding aborts the process); create it as root: {MAKE_LOCALE}"
            " (on Debian/Ubuntu first: apt-get install -y locales)"
        )
    if returncode == _PACKAGE_MISSING:
        return "the CTP binding is not installed: pip install 'bastion[ctp]'"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    return (
        f"the CTP binding aborted while loading (exit {returncode}: {last}); check the"
        f" {LOCALE} locale ({MAKE_LOCALE}) and that openctp-ctp matches this platform"
    )


def check_runtime() -> None:
    """Raise ``EnvironmentFault`` unless the binding can be imported in this process."""
    if not _verdict:
        try:
            child = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
                [sys.executable, "-c", _PROBE],
                capture_output=True,
                text=True,
                timeout=60,
                env=dict(os.environ),
                check=False,
            )
            _verdict.append(_problem(child.returncode, child.stderr))
        except (OSError, subprocess.TimeoutExpired) as exc:
            _verdict.append(f"could not start a Python to check the CTP binding: {exc}")
    problem = _verdict[0]
    if problem is not None:
        raise EnvironmentFault(problem)


@dataclass(frozen=True, slots=True)
class Binding:
    """The two modules of openctp-ctp, loaded after ``check_runtime`` passed."""

    trader: ModuleType
    md: ModuleType


def load_binding() -> Binding:
    """The binding's modules; checks the runtime in a child process first."""
    check_runtime()
    from openctp_ctp import thostmduserapi, thosttraderapi

    return Binding(trader=thosttraderapi, md=thostmduserapi)
