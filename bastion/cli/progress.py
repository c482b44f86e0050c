"""Progress of a long import on a terminal: rows, rate and time left (issue 16).

Shown on stderr with rich while the import runs, and only when stderr is a terminal:
piped or redirected output (scripts, cron, CI) stays quiet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bastion.marketdata.importers.files import Progress as ImportProgress

__all__ = ["import_progress"]


@contextmanager
def import_progress(console: Console | None = None) -> Iterator[ImportProgress]:
    """A callback for ``import_bar_files`` that draws one bar per file."""
    console = console or Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )
    tasks: dict[Path, TaskID] = {}
    started = time.monotonic()

    def update(path: Path, rows: int, done: int, total: int) -> None:
        if path not in tasks:
            tasks[path] = bar.add_task(path.name, total=total, rows=0, rate=0.0)
        elapsed = max(time.monotonic() - started, 1e-9)
        bar.update(tasks[path], completed=done, rows=rows, rate=rows / elapsed)

    with bar:
        yield update
