"""``docs/ib-codes.md``: what Bastion does on each IB message code, from ``KNOWN_CODES``."""

from __future__ import annotations

from bastion.venues.ib.errors import KNOWN_CODES


def render() -> str:
    lines = [
        "# IB message codes: what Bastion does",
        "",
        "Generated from `bastion/venues/ib/errors.py` (`python -m bastion.docgen`); do not",
        "edit by hand. A code not listed is logged as an error, and an order it names stays",
        "in flight until a status query or reconciliation settles it. See [ib.md](ib.md).",
        "",
        "| code | reading | IB means | Bastion does | reject reason |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for code, row in sorted(KNOWN_CODES.items()):
        reason = row.reason.value if row.reason is not None else ""
        lines.append(f"| {code} | {row.kind.value} | {row.meaning} | {row.action} | {reason} |")
    lines.append("")
    return "\n".join(lines)
