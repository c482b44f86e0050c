"""One table model for every report, drawn with rich in the terminal and by the shared
HTML template on the page, so both show the same cells in the same order.

Numbers are right-aligned; the first column is the row's name. A key/value table (no
header) is how a report lists facts; a grid table has a header row.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = [
    "TableData",
    "facts_table",
    "grid",
    "print_tables",
    "renderable",
    "rich_table",
    "stdout_text",
    "text_of",
]


@dataclass(frozen=True, slots=True)
class TableData:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    """Per column: right-align (figures). Default: every column but the first."""
    note: str = ""
    header: bool = True

    def is_numeric(self, index: int) -> bool:
        if self.numeric:
            return self.numeric[index]
        return index > 0

    @property
    def empty(self) -> bool:
        return not self.rows

    def as_json(self) -> dict[str, object]:
        """The table as data: a facts table as a mapping, a grid as a list of rows."""
        if not self.header:
            return {"title": self.title, "facts": {row[0]: row[1] for row in self.rows}}
        return {
            "title": self.title,
            "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows],
        }


def grid(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[bool] = (),
    note: str = "",
) -> TableData:
    return TableData(
        title, tuple(columns), tuple(tuple(r) for r in rows), tuple(numeric), note, header=True
    )


def facts_table(title: str, rows: Iterable[tuple[str, str]], *, note: str = "") -> TableData:
    """A two-column name/value table without a header."""
    return TableData(title, ("", ""), tuple(rows), (False, False), note, header=False)


def rich_table(data: TableData) -> Table:
    table = Table(
        show_header=data.header,
        header_style="bold",
        box=box.SIMPLE_HEAD if data.header else box.SIMPLE,
        show_edge=False,
        pad_edge=False,
    )
    for i, name in enumerate(data.columns):
        longest = max((len(row[i]) for row in data.rows), default=0)
        table.add_column(
            name,
            min_width=min(max(longest, len(name)), 16),
            justify="right" if data.is_numeric(i) else "left",
            style="bold" if (not data.header and i == 0) else None,
            no_wrap=i == 0 or data.is_numeric(i),
            overflow="fold",
        )
    if data.empty:
        table.add_row(*(["none", *[""] * (len(data.columns) - 1)]))
    for row in data.rows:
        table.add_row(*row)
    return table


def renderable(data: TableData) -> RenderableType:
    """The table under its title, its note beneath (neither squeezed to the table's
    width), and a blank line."""
    parts: list[RenderableType] = []
    if data.title:
        parts.append(Text(data.title, style="bold"))
    parts.append(rich_table(data))
    if data.note:
        parts.append(Text(data.note, style="dim"))
    parts.append(Text(""))
    return Group(*parts)


def _natural_width(data: TableData, floor: int) -> int:
    """The width the table needs so that no cell is cut or wrapped (within reason)."""
    wide = Console(width=400, color_system=None)
    return max(floor, min(400, wide.measure(rich_table(data)).maximum))


def print_tables(console: Console, tables: Iterable[TableData], *, min_width: int = 110) -> None:
    """Print ``tables`` on ``console``. A terminal gets its own width; other output (a
    pipe, a file) gets each table at its natural width, at least ``min_width``, so
    wide tables are neither squeezed nor cut."""
    for data in tables:
        if console.is_terminal:
            console.print(renderable(data))
        else:
            wide = Console(
                file=console.file, width=_natural_width(data, min_width), color_system=None
            )
            wide.print(renderable(data))


def stdout_text(tables: Iterable[TableData]) -> str:
    """The tables as a command prints them on stdout: on a terminal, fitted to its width
    (text columns wrap, figures and names never do); otherwise (a pipe, a file, a test
    capturing the output) as ``text_of``, at their natural width, never cut or wrapped."""
    import sys

    screen = Console(file=sys.stdout)
    if not screen.is_terminal:
        return text_of(tables)
    buffer = io.StringIO()
    console = Console(file=buffer, width=screen.width, force_terminal=False, color_system=None)
    for data in tables:
        console.print(renderable(data))
    return buffer.getvalue()


def text_of(tables: Iterable[TableData], width: int = 110) -> str:
    """The tables as plain text, each at its natural width (at least ``width``)."""
    buffer = io.StringIO()
    for data in tables:
        console = Console(
            file=buffer, width=_natural_width(data, width), force_terminal=False, color_system=None
        )
        console.print(renderable(data))
    return buffer.getvalue()
