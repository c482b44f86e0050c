"""Real ``openctp_ctp`` field structs, filled the way a CTP front fills them.

The binding's setters encode text as UTF-8, but a front sends GBK: ``StatusMsg`` and
``ErrorMsg`` arrive as GBK bytes that the binding's getters decode. To build the structs
a front would send, text that is not ASCII is written into the struct's memory as GBK
bytes (``set_raw``), at the field's offset. The offsets are computed from the binding's
own field order and types (``layout``), and checked once per class: every field is
written through its setter and must be found at the computed offset, or the layout is
refused (``LayoutError``), so a wrong offset can never write into the wrong field.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["LayoutError", "layout", "make", "set_raw", "set_text"]

_FIELD = re.compile(r'^    (\w+): "(\w+)" = property', re.MULTILINE)
_ARRAY = re.compile(r"of type 'char \[(\d+)\]'")


class LayoutError(RuntimeError):
    """The computed struct layout does not match the binding."""


def _kind(cls: type, name: str) -> tuple[str, int]:
    probe = cls()
    value = getattr(probe, name)
    if isinstance(value, float):
        return "d", 8
    if isinstance(value, int):
        return "i", 4
    try:
        setattr(probe, name, "x" * 4096)
    except TypeError as exc:
        found = _ARRAY.search(str(exc))
        if found:
            return "s", int(found.group(1))
        setattr(probe, name, "x")
        return "c", 1
    raise LayoutError(f"{cls.__name__}.{name}: a 4096-character value was accepted")


@functools.cache
def layout(cls: type) -> dict[str, tuple[int, str, int]]:
    """Field name -> (offset, kind, size) of a binding struct class, checked."""
    fields = _FIELD.findall(inspect.getsource(cls))
    offset = 0
    out: dict[str, tuple[int, str, int]] = {}
    for name, _type in fields:
        kind, size = _kind(cls, name)
        align = {"d": 8, "i": 4}.get(kind, 1)
        offset = (offset + align - 1) // align * align
        out[name] = (offset, kind, size)
        offset += size
    _check(cls, out)
    return out


def _check(cls: type, fields: dict[str, tuple[int, str, int]]) -> None:
    probe = cls()
    base = int(probe.this)
    for name, (offset, kind, size) in fields.items():
        if kind == "s" and size > 1:
            setattr(probe, name, "Q" * (size - 1))
            ok = ctypes.string_at(base + offset, size) == b"Q" * (size - 1) + b"\0"
        elif kind == "i":
            setattr(probe, name, 0x5A5A5A5A)
            ok = ctypes.c_int.from_address(base + offset).value == 0x5A5A5A5A
        elif kind == "d":
            setattr(probe, name, 2.5)
            ok = ctypes.c_double.from_address(base + offset).value == 2.5
        else:
            setattr(probe, name, "Q")
            ok = ctypes.string_at(base + offset, 1) == b"Q"
        if not ok:
            raise LayoutError(f"{cls.__name__}.{name} is not at offset {offset}")


def set_raw(struct: Any, name: str, data: bytes) -> None:
    """Write ``data`` (cut to fit, NUL-terminated) into a char-array field as it is."""
    offset, kind, size = layout(type(struct))[name]  # type: ignore[arg-type]
    if kind != "s":
        raise LayoutError(f"{type(struct).__name__}.{name} is not a text field")
    data = data[: size - 1] + b"\0"
    ctypes.memmove(int(struct.this) + offset, data, len(data))


def set_text(struct: Any, name: str, value: str) -> None:
    """Set a text field as a front would: GBK bytes (ASCII through the setter)."""
    if value.isascii():
        setattr(struct, name, value)
    else:
        set_raw(struct, name, value.encode("gbk"))


def make(cls: type, fields: Mapping[str, object]) -> Any:
    """A struct of ``cls`` with ``fields`` set (text as a front sends it)."""
    struct = cls()
    for name, value in fields.items():
        if isinstance(value, str):
            set_text(struct, name, value)
        else:
            setattr(struct, name, value)
    return struct
