"""Run records (R8.7): every gate, shadow and session run leaves a dated record.

A record says what the run looked at and what it decided, so the operator (or an
auditor, later) can answer "what happened tonight, and why" without the terminal:
the target date and pool period, the risk level, the signals, the broker state, the
gate result, the order API call counts, the output files, the exact command and the
next step. Each record is written twice, as JSON (for tools) and Markdown (for people),
under ``<records_dir>/<YYYY-MM-DD>/``. The Markdown is in English, or in Chinese when the
profile says ``lang: zh`` or the command line ``bastion --lang zh`` (``records_zh``: the
same fields); the JSON keeps its keys and says its ``lang``.

Nothing secret reaches a record: every text passes through a ``Redactor`` built from
the secret values present in the environment (the variables the profile names, and
any variable whose name looks like a secret) and the profile's account id, which is
masked. ``redactor_for`` builds it; ``write_record`` uses it on both files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bastion.config import Profile
from bastion.secrets import SECRET_KEY_PATTERN, Redactor, mask_account

__all__ = [
    "RunRecord",
    "command_line",
    "record_language",
    "redactor_for",
    "set_command_args",
    "set_record_language",
    "write_record",
    "write_text_redacted",
]

SECRET_FIELDS = ("user_env", "password_env", "auth_code_env")


def redactor_for(profile: Profile | None, environ: Mapping[str, str] | None = None) -> Redactor:
    """Masks the profile's account and every secret value found in the environment."""
    env = os.environ if environ is None else environ
    names = {name for name in env if SECRET_KEY_PATTERN.search(name)}
    accounts: list[str] = []
    if profile is not None:
        accounts.append(profile.account)
        for field_name in SECRET_FIELDS:
            var = getattr(profile.venue, field_name)
            if var:
                names.add(var)
        # An alert target's URL (a bot token, a mail password) is a secret as a whole.
        names.update(t.url_env for t in profile.alerts.targets if t.url_env)
    values = [env[n] for n in sorted(names) if env.get(n)]
    # Very short values (a "1" flag) would mangle every number: they are not secrets.
    return Redactor(secrets=[v for v in values if len(v) >= 4], accounts=accounts)


_ARGS: list[list[str]] = []
_LANGUAGE: list[str] = []
LANGUAGES = ("en", "zh")


def set_record_language(lang: str | None) -> None:
    """The command line's ``--lang`` (``None``: the profile decides)."""
    _LANGUAGE[:] = [] if lang is None else [lang]


def record_language(profile_lang: str = "en") -> str:
    """The language of this run's records: ``--lang`` if given, else the profile's."""
    return _LANGUAGE[0] if _LANGUAGE else profile_lang


def set_command_args(argv: Sequence[str]) -> None:
    """Remember the arguments ``bastion`` was called with (the CLI's entry point calls it)."""
    _ARGS[:] = [list(argv)]


def command_line(argv: Sequence[str] | None = None) -> str:
    """The exact command as typed (``bastion`` and its arguments), shell-quoted."""
    if argv is None:
        argv = _ARGS[0] if _ARGS else sys.argv[1:]
    return shlex.join(["bastion", *argv])


@dataclass(slots=True)
class RunRecord:
    """What one run looked at and decided. Every field is plain data (JSON-able)."""

    kind: str
    """``probe``, ``shadow``, ``gate``, ``smoke-order``, ``watch``, ``flatten``, ``report``..."""
    profile: str
    role: str
    """``official`` or ``comparison``."""
    environment: str
    command: str
    target_date: str | None = None
    pool_period: str | None = None
    pool_source: str | None = None
    risk_level: str | None = None
    signals: list[dict[str, Any]] = field(default_factory=list)
    broker_state: dict[str, Any] = field(default_factory=dict)
    gate_result: str | None = None
    api_counts: dict[str, int] = field(
        default_factory=lambda: {"send_order_calls": 0, "cancel_order_calls": 0}
    )
    output_files: list[str] = field(default_factory=list)
    next_step: str = ""
    stale_inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self, lang: str = "en") -> str:
        if lang == "zh":
            from bastion.ops.records_zh import markdown_zh

            return markdown_zh(self)
        lines = [
            f"# Bastion run record: {self.kind}"
            + (" (COMPARISON)" if self.role == "comparison" else ""),
            "",
            f"- started: {self.started_at}",
            f"- profile: {self.profile} ({self.role}, {self.environment})",
            f"- command: `{self.command}`",
            f"- target date: {self.target_date or '-'}",
            f"- pool period: {self.pool_period or '-'}"
            + (f" (source: {self.pool_source})" if self.pool_source else ""),
            f"- risk level: {self.risk_level or '-'}",
            f"- gate result: **{self.gate_result or '-'}**",
            (
                f"- order API calls: send {self.api_counts.get('send_order_calls', 0)},"
                f" cancel {self.api_counts.get('cancel_order_calls', 0)}"
            ),
        ]
        if self.stale_inputs:
            lines.append(f"- STALE INPUT: {'; '.join(self.stale_inputs)}")
        lines += ["", "## Signals", ""]
        if self.signals:
            keys = list(self.signals[0])
            lines.append("| " + " | ".join(keys) + " |")
            lines.append("|" + "---|" * len(keys))
            lines.extend(
                "| " + " | ".join(str(s.get(k, "")) for k in keys) + " |" for s in self.signals
            )
        else:
            lines.append("none")
        lines += ["", "## Broker state", ""]
        if self.broker_state:
            lines.extend(f"- {k}: {v}" for k, v in self.broker_state.items())
        else:
            lines.append("not looked at")
        if self.notes:
            lines += ["", "## Notes", ""]
            lines.extend(f"- {n}" for n in self.notes)
        lines += ["", "## Output files", ""]
        if self.output_files:
            lines.extend(f"- {f}" for f in self.output_files)
        else:
            lines.append("none")
        lines += ["", "## Next step", "", self.next_step or "-", ""]
        return "\n".join(lines)


def write_text_redacted(path: Path, text: str, redactor: Redactor, what: str = "report") -> Path:
    """Write ``text`` atomically, secrets and account ids masked; one line if refused."""
    from bastion.files import write_atomically

    return write_atomically(path, redactor(text), what)


def write_record(
    record: RunRecord,
    records_dir: Path,
    redactor: Redactor,
    *,
    account: str | None = None,
    lang: str = "en",
) -> tuple[Path, Path]:
    """Write ``record`` as JSON and Markdown under ``records_dir/<date>/``; both paths."""
    now = dt.datetime.now(dt.UTC)
    folder = Path(records_dir) / now.strftime("%Y-%m-%d")
    stem = f"{record.kind}-{now:%H%M%S}-{now.microsecond:06d}"
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    record.output_files = [*record.output_files, str(json_path), str(md_path)]
    data = record.as_dict()
    data["lang"] = lang
    if account is not None:
        data["account"] = mask_account(account)
    write_text_redacted(json_path, json.dumps(data, indent=2, default=str), redactor, "run record")
    write_text_redacted(md_path, record.markdown(lang), redactor, "run record")
    return json_path, md_path
