"""Who may log on to the paper venue, and with what credentials.

The venue admits only the clients it is configured for (``ServerConfig.clients``,
``bastion venue serve --allow``). The rule for Bastion's own processes: an allowed
CompID ``X`` admits ``X`` itself and ``X.<ROLE>`` for every role in
``bastion.venues.fix.config.SESSION_ROLES`` (ENGINE, PROBE, GATE, SMOKE, WATCH,
RECONCILE, FLATTEN, KILL, RECOVER, WATCHDOG): each role of a profile whose
``venue.sender_comp_id`` is ``X`` logs on as its own session (``fix_venue_for``), so
allowing ``BASTION`` (the default) lets the whole operator's day in, and nothing else.
A CompID with any other suffix (``BASTION.EVIL``) is refused.

When a client has a Username and Password (read from environment variables when the
venue starts, never from a file), the Logon must carry both (553/554) and they must
match; the comparison takes the same time whatever the input (``hmac.compare_digest``).
A refusal reason never repeats what was sent.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from bastion.errors import ConfigError
from bastion.secrets import Secret, resolve_secret
from bastion.venues.fix.config import SESSION_ROLES

__all__ = ["AllowedClient", "LogonPolicy", "clients_from_environment"]


@dataclass(frozen=True, slots=True)
class AllowedClient:
    comp_id: str
    """The base SenderCompID; ``<comp_id>.<ROLE>`` is admitted too."""
    username: str | None = None
    password: Secret | None = None


class LogonPolicy:
    def __init__(self, clients: Iterable[AllowedClient]) -> None:
        self._clients = {c.comp_id: c for c in clients}

    @property
    def comp_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._clients))

    def client_for(self, comp_id: str) -> AllowedClient | None:
        """The allowed client a SenderCompID belongs to, by the role rule."""
        found = self._clients.get(comp_id)
        if found is not None:
            return found
        base, dot, role = comp_id.rpartition(".")
        if dot and role in SESSION_ROLES:
            return self._clients.get(base)
        return None

    def refusal(self, comp_id: str, username: str | None, password: str | None) -> str | None:
        """Why a Logon from ``comp_id`` is refused, or ``None`` when it may log on."""
        client = self.client_for(comp_id)
        if client is None:
            return f"SenderCompID {comp_id!r} is not allowed on this venue"
        ok = True
        if client.username is not None:
            ok &= _same(username, client.username)
        if client.password is not None:
            ok &= _same(password, client.password.reveal())
        return None if ok else "logon refused: bad Username (553) or Password (554)"


def _same(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


def clients_from_environment(
    comp_ids: Iterable[str], user_env: str | None, password_env: str | None
) -> tuple[AllowedClient, ...]:
    """The allowed clients, each with the Username and Password the named environment
    variables hold (the same for every client). A variable that is not set is a
    ``ConfigError`` before the venue listens."""
    username = resolve_secret(user_env).reveal() if user_env else None
    password = resolve_secret(password_env) if password_env else None
    out = []
    for comp_id in comp_ids:
        if not comp_id or any(ch in comp_id for ch in "\x01= ") or len(comp_id) > 64:
            raise ConfigError(
                f"--allow {comp_id!r}: a CompID is 1..64 characters without spaces, '=' or SOH"
            )
        out.append(AllowedClient(comp_id, username, password))
    if not out:
        raise ConfigError("--allow: at least one client CompID is needed")
    return tuple(out)
