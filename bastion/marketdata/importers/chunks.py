"""Read a CSV or Parquet bar file in bounded pieces, every row knowing its line (issue 16).

A piece (``Chunk``) is a frame of the file's own columns as text (a Parquet datetime
column stays a datetime), the line (CSV, counting the header as line 1) or row
(Parquet, from 1) of its first row, and how far through the file it is. Memory is
bounded by the piece size, whatever the file's size.

CSV pieces end on a line break. Before a piece is parsed, every line's field count is
checked against the header (a vectorised count of separators; pieces that contain a
quote character are checked with Python's csv module, which knows quoting); so a short,
long or blank line, or a quoted line break, is refused naming its line, and line numbers
stay exact. Text must be UTF-8 (a byte-order mark before the header is allowed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from bastion.errors import DataError

__all__ = ["CHUNK_BYTES", "Chunk", "read_chunks"]

CHUNK_BYTES = 8 << 20
"""Bytes of CSV per piece: about 150,000 one-minute bars."""
PARQUET_ROWS = 200_000
_NEWLINE, _COMMA, _QUOTE = ord("\n"), ord(","), ord('"')


@dataclass(frozen=True, slots=True)
class Chunk:
    frame: pl.DataFrame
    first: int
    """The line (CSV) or row (Parquet) of the frame's first row."""
    unit: str
    """``line`` or ``row``."""
    done: int
    """How far through the file the piece ends: bytes (CSV) or rows (Parquet)."""
    total: int

    def where(self, path: Path, i: int) -> str:
        """``file:line`` of row ``i`` of this piece (``file:row N`` for Parquet)."""
        n = self.first + i
        return f"{path}:{n}" if self.unit == "line" else f"{path}:row {n}"


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The file's pieces in order; raises ``DataError`` naming file and line."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if suffix == ".csv":
        return _csv_chunks(path, chunk_bytes)
    if suffix == ".parquet":
        return _parquet_chunks(path)
    raise DataError(f"{path}: unknown file type {suffix!r}, expected .csv or .parquet")


def _header(path: Path, handle: io.BufferedReader) -> tuple[list[str], int]:
    raw = handle.readline()
    if not raw.strip():
        raise DataError(f"{path}: empty file, expected a header line")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    return next(csv.reader([text])), len(raw)


def _csv_chunks(path: Path, chunk_bytes: int) -> Iterator[Chunk]:
    total = path.stat().st_size
    with path.open("rb") as handle:
        header, done = _header(path, handle)
        line, rest = 2, b""
        while True:
            block = handle.read(chunk_bytes)
            data = rest + block
            if not block:
                if data:  # a last line without a line break
                    yield _parse(path, header, data + b"\n", line, done + len(rest), total)
                elif line == 2:  # no rows: the header alone, so its columns are checked
                    empty = pl.DataFrame(schema=dict.fromkeys(header, pl.Utf8))
                    yield Chunk(empty, line, "line", done, total)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            piece, rest = data[:cut], data[cut:]
            done += len(piece)
            chunk = _parse(path, header, piece, line, done, total)
            line += chunk.frame.height
            yield chunk


def _parse(  # noqa: PLR0917 - the piece and where it sits in the file
    path: Path, header: list[str], piece: bytes, line: int, done: int, total: int
) -> Chunk:
    """Check field counts line by line, then parse ``piece`` (whole lines) as text."""
    arr = np.frombuffer(piece, dtype=np.uint8)
    ends = np.flatnonzero(arr == _NEWLINE)
    expected = len(header)
    if (arr == _QUOTE).any():
        _check_quoted(path, header, piece, line)
    else:
        commas = np.flatnonzero(arr == _COMMA)
        before = np.searchsorted(commas, ends)
        fields = np.diff(before, prepend=0) + 1
        bad = np.flatnonzero(fields != expected)
        if bad.size:
            i = int(bad[0])
            start = int(ends[i - 1]) + 1 if i else 0
            text = piece[start : int(ends[i])].rstrip(b"\r")
            found = 0 if not text.strip() else int(fields[i])
            raise DataError(
                f"{path}:{line + i}: {found} fields, expected {expected} ({','.join(header)})"
            )
    try:
        frame = pl.read_csv(
            io.BytesIO(piece),
            has_header=False,
            new_columns=header,
            infer_schema=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}:{_bad_utf8_line(piece, line)}: malformed CSV ({exc})") from None
    if frame.height != ends.size:  # pragma: no cover - the field check above rules it out
        raise DataError(f"{path}:{line}: malformed CSV (rows do not match lines)")
    return Chunk(frame, line, "line", done, total)


def _check_quoted(path: Path, header: list[str], piece: bytes, line: int) -> None:
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = line + piece[: exc.start].count(b"\n")
        raise DataError(f"{path}:{where}: not UTF-8 text ({exc.reason})") from None
    for i, raw in enumerate(text.split("\n")[:-1]):  # whole lines: the piece ends on one
        try:
            rows = list(csv.reader([raw.removesuffix("\r")], strict=True))
        except csv.Error as exc:  # an unclosed quote: a quoted line break, or a typo
            raise DataError(f"{path}:{line + i}: malformed CSV ({exc})") from None
        found = len(rows[0]) if rows else 0
        if found != len(header):
            raise DataError(
                f"{path}:{line + i}: {found} fields, expected {len(header)} ({','.join(header)})"
            )


def _bad_utf8_line(piece: bytes, line: int) -> int:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError as exc:
        return line + piece[: exc.start].count(b"\n")
    return line


def _parquet_chunks(path: Path) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    total = max(int(source.metadata.num_rows), 1)
    row = 1
    if source.metadata.num_rows == 0:
        empty = pl.DataFrame(schema=dict.fromkeys(source.schema_arrow.names, pl.Utf8))
        yield Chunk(empty, row, "row", 0, total)
        return
    try:
        for batch in source.iter_batches(batch_size=PARQUET_ROWS):
            frame = pl.DataFrame(batch)
            frame = frame.with_columns(
                pl.col(c).cast(pl.Utf8) for c in frame.columns if frame.schema[c] != pl.Datetime
            )
            yield Chunk(frame, row, "row", row - 1 + frame.height, total)
            row += frame.height
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
