"""Files the operator's commands write, and the paths a profile needs (issue 16, item 2).

- ``write_atomically(path, text, what)``: a temporary file beside the target, flushed to
  disk, then renamed over it. A reader never sees half a file; a refused write (a
  read-only folder, a full disk, a path through a file, a directory in the way) leaves
  the old file as it was, removes the temporary one and raises one ``EnvironmentFault``
  line naming the path and the problem.
- ``path_problem(path, kind)``: why a path cannot be used as a file or a folder to
  write in (``None`` when it can); ``bastion config validate`` asks it for every path of
  a profile before anything runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Literal

from bastion.errors import EnvironmentFault

__all__ = ["ensure_folder", "path_problem", "problem_of", "write_atomically"]

Kind = Literal["file", "folder"]


def problem_of(exc: OSError) -> str:
    """What an ``OSError`` means for a path, in a few words."""
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        return "the disk is full"
    if exc.errno == errno.EFBIG:
        return "the file size limit was reached"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return (exc.strerror or type(exc).__name__).lower()


def ensure_folder(folder: Path, what: str) -> Path:
    """Create ``folder`` (and its parents) or raise one line naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise EnvironmentFault(f"{what} {folder}: is a file, expected a folder") from None
    except OSError as exc:
        raise EnvironmentFault(f"{what} {folder}: cannot be created ({problem_of(exc)})") from None
    return folder


def write_atomically(path: Path, content: str | bytes, what: str) -> Path:
    """Write ``content`` to ``path`` whole or not at all; one line if the disk refuses."""
    path = Path(path)
    if path.is_dir():
        raise EnvironmentFault(f"{what} {path}: is a folder, expected a file; nothing was written")
    ensure_folder(path.parent, f"{what} folder")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise EnvironmentFault(
            f"{what} {path}: cannot be written ({problem_of(exc)}); nothing was written"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def path_problem(path: Path, kind: Kind) -> str | None:
    """Why ``path`` cannot be used to write a ``kind`` (a file, a folder), or ``None``.

    A path that does not exist yet is usable when its nearest existing ancestor is a
    folder this process may write in (the command will create the rest).
    """
    path = Path(path)
    if path.exists():
        return _existing_problem(path, kind)
    ancestor = _nearest_existing(path.parent if kind == "file" else path)
    if not ancestor.is_dir():
        return f"cannot be created: {ancestor} is a file, not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot be created: {ancestor} is not writable"
    return _probe_write(ancestor)


def _existing_problem(path: Path, kind: Kind) -> str | None:
    if kind == "file" and path.is_dir():
        return "is a folder, expected a file"
    if kind == "folder" and not path.is_dir():
        return "is a file, expected a folder"
    folder = path if kind == "folder" else path.parent
    if not os.access(path, os.W_OK) or not os.access(folder, os.W_OK | os.X_OK):
        return "is not writable"
    return _probe_write(folder)


def _probe_write(folder: Path) -> str | None:
    """Write and remove a small file: the only sure test of a read-only mount."""
    probe = folder / f".bastion-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        return f"is not writable ({problem_of(exc)})"
    with contextlib.suppress(OSError):
        probe.unlink()
    return None
