"""Secrets come only from the environment and are never shown (R1.3).

A profile names the environment variable that holds a secret (``password_env:
BASTION_PAPER_IB_PASSWORD``), never the value. ``Secret`` wraps a resolved value and
renders as ``***`` everywhere; ``Redactor`` scrubs known secret values out of any text
Bastion writes (logs, reports, run records), and ``mask_account`` hides account ids.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from bastion.errors import ConfigError

__all__ = ["SECRET_KEY_PATTERN", "Redactor", "Secret", "mask_account", "resolve_secret"]

SECRET_KEY_PATTERN = re.compile(
    r"(password|passwd|secret|token|auth_?code|api_?key|app_?secret)", re.IGNORECASE
)
"""Key names that may only point at an environment variable, never hold a value."""

_REDACTED = "***"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one call that needs it (a login). Never log the result."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def resolve_secret(env_var: str, environ: Mapping[str, str] | None = None) -> Secret:
    env = os.environ if environ is None else environ
    value = env.get(env_var)
    if not value:
        raise ConfigError(
            f"secret environment variable {env_var} is not set; export it before running"
        )
    return Secret(value)


def mask_account(account: str) -> str:
    """``DU1234567`` -> ``DU****567``; short ids are fully masked."""
    if len(account) <= 4:
        return "*" * len(account)
    keep_head = 2 if len(account) > 6 else 1
    return account[:keep_head] + "*" * (len(account) - keep_head - 3) + account[-3:]


class Redactor:
    """Replaces every known secret value (and account id) in text with a mask."""

    def __init__(self, secrets: Iterable[str] = (), accounts: Iterable[str] = ()) -> None:
        pairs = [(s, _REDACTED) for s in secrets if s] + [
            (a, mask_account(a)) for a in accounts if a
        ]
        # Longest first, so a secret containing another is replaced whole.
        self._pairs = sorted(pairs, key=lambda p: len(p[0]), reverse=True)

    def __call__(self, text: str) -> str:
        for value, mask in self._pairs:
            text = text.replace(value, mask)
        return text
