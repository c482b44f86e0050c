"""Atomic file writes: write a temporary file beside the target, then rename it.

A reader never sees a half-written file, and a failed write leaves the old file as it
was (issue 4: nothing partial is written).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl

__all__ = ["atomic_write", "io_problem", "write_parquet", "write_text"]


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` and rename ``tmp`` to ``path``; remove ``tmp`` on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: df.write_parquet(tmp, compression="zstd", statistics=True))


def write_text(text: str, path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def io_problem(exc: BaseException) -> str:
    """What went wrong in a failed write, in a few words (``File too large (os error
    27)``), from an ``OSError`` or a polars error wrapping one."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.rsplit("underlying IO error: ", 1)[-1]
