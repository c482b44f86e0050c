"""Clean help for every ``bastion`` command, whatever the CLI library's defaults.

The command tree is built once from the typer app and then walked:

- a flag shows no value placeholder (no ``<bool>``); an option that takes a value shows
  its kind in capitals (``--timeout FLOAT``, ``--profile TEXT``);
- an argument shows its name in capitals, plain in the usage line
  (``bastion data import PATH``, not ``{path}``);
- help texts are prose: a paragraph's lines are joined (no hard breaks in the middle of
  a sentence), double backticks become plain quotes, and requirement ids such as
  ``(R8.3)`` are for the docs, not for the terminal.

``bastion -h`` and ``--help`` both work on every command (``help_option_names`` is set
on the root and inherited).
"""

from __future__ import annotations

import re

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["build_command", "clean_help"]

_REQUIREMENT = re.compile(r"\s*\((?:R\d+(?:\.\d+)?(?:,\s*)?)+\)|\bR\d+\.\d+\b")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def clean_help(text: str | None) -> str | None:
    """Prose for the terminal: paragraphs joined, no RST literals, no requirement ids."""
    if text is None:
        return None
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    cleaned = [_REQUIREMENT.sub("", _RST_LITERAL.sub(r"'\1'", p)).strip() for p in paragraphs]
    return "\n\n".join(p for p in cleaned if p)


class _PlainArgument(TyperArgument):
    """An argument shown by its name in the usage line: ``PATH``, ``[PATH]``."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: object) -> str | None:
        return None  # the name already says what it is


HELP_OPTIONS = ["-h", "--help"]


def _help_option(command: object) -> None:
    """The command's own ``-h/--help`` option, made now so it shows no placeholder."""
    try:  # typer >= 0.20 carries its own click
        from typer._click.decorators import help_option
    except ImportError:  # older typer: the click it depends on
        from click.decorators import help_option

    if not getattr(command, "add_help_option", False):
        return
    help_option(HELP_OPTIONS)(command)
    option = command.params.pop()  # type: ignore[attr-defined]
    option.metavar = ""
    command._help_option = option  # type: ignore[attr-defined]  # noqa: SLF001 - click caches it there


_KINDS = {"STR": "TEXT", "INT": "INTEGER", "BOOL": "BOOLEAN", "FLOAT": "FLOAT", "PATH": "PATH"}


def _value_name(option: TyperOption) -> str:
    """``<float range>`` -> ``FLOAT``, ``<list[Path]>`` -> ``PATH``, choices as ``a|b``."""
    desc = getattr(option, "type_descriptor", None)
    if desc is None:  # older typer: click's own parameter types
        return str(getattr(option.type, "name", "value")).split()[0].upper()  # type: ignore[attr-defined]
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    label = option.display_type(None).strip("<>")  # type: ignore[arg-type]
    label = label.removeprefix("list[").rstrip("]").split()[0].upper()
    return _KINDS.get(label, label)


def _polish(command: typer.core.TyperCommand | TyperGroup | object) -> None:
    params = getattr(command, "params", [])
    for param in params:
        if isinstance(param, TyperOption):
            if param.is_flag or param.count:
                param.metavar = ""
            elif param.metavar is None:
                param.metavar = _value_name(param)
            param.help = clean_help(param.help)
        elif isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            param.__class__ = _PlainArgument
            param.help = clean_help(param.help)
    _help_option(command)
    if hasattr(command, "help"):
        command.help = clean_help(command.help)  # type: ignore[attr-defined]
    if getattr(command, "short_help", None):
        command.short_help = clean_help(command.short_help)  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        _polish(sub)


def build_command(app: typer.Typer) -> TyperGroup:
    """The click command tree of ``app``, with clean help on every command."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)  # noqa: S101 - the app has sub-commands
    _polish(command)
    return command
