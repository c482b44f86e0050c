"""Reading the tables the CLI prints (``bastion.reports.tables``) back into cells, so a
test checks a figure in its row and column rather than a run of spaces."""

from __future__ import annotations

import re

__all__ = ["facts_of", "header_of", "rows_of"]

_GAP = re.compile(r"\s{2,}")
_RULE = re.compile(r"^[─━\s]+$")


def _block(out: str, title: str) -> list[str]:
    lines = out.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == title)
    except StopIteration:
        raise AssertionError(f"no table titled {title!r} in:\n{out}") from None
    block = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        block.append(line)
    return block


def _cells(line: str) -> list[str]:
    return _GAP.split(line.strip())


def _header_ruled(block: list[str], title: str, out: str) -> None:
    assert len(block) > 1, f"{title!r} has no rows:\n{out}"
    assert _RULE.match(block[1]), f"{title!r} has no header rule:\n{out}"


def header_of(out: str, title: str) -> list[str]:
    """The column names of the grid table titled ``title``."""
    block = _block(out, title)
    _header_ruled(block, title, out)
    return _cells(block[0])


def rows_of(out: str, title: str) -> list[list[str]]:
    """The rows of the grid table titled ``title`` (its header and note left out)."""
    block = _block(out, title)
    _header_ruled(block, title, out)
    width = len(_cells(block[0]))
    return [cells for line in block[2:] if len(cells := _cells(line)) == width]


def facts_of(out: str, title: str) -> dict[str, str]:
    """The name/value rows of the facts table titled ``title``."""
    facts = {}
    for line in _block(out, title):
        name, _, value = line.strip().partition("  ")
        if value.strip():
            facts[name.strip()] = value.strip()
    return facts
