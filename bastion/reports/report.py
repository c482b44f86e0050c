"""One operational report: tables, dated charts and notes, printed in the terminal
(rich), written as Markdown and as an HTML page on the shared template."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bastion.ops.records import write_text_redacted
from bastion.reports.html import Callout, Chart, PageData, Paragraph, Section, write_page
from bastion.reports.tables import TableData, text_of
from bastion.secrets import Redactor

__all__ = ["Report", "markdown_of"]


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    tables: list[TableData]
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headline: Callout | None = None
    extra_files: dict[str, str] = field(default_factory=dict)
    context: tuple[tuple[str, str], ...] = ()
    verdict_no: bool = False
    """The report's answer is NO (breaks, an unknown view): exit status 3."""

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "title": self.title,
            "headline": self.headline.text if self.headline else None,
            "verdict_no": self.verdict_no,
            "tables": [t.as_json() for t in self.tables],
            "notes": list(self.notes),
        }

    @property
    def text(self) -> str:
        """What the terminal prints: the title, the tables (rich) and the notes."""
        return self.text_with(text_of)

    def text_with(self, tables_text: Callable[[Iterable[TableData]], str]) -> str:
        """The text with the tables drawn by ``tables_text`` (``stdout_text`` for a
        command's own output: fitted to a terminal, natural width otherwise)."""
        parts = [self.title]
        if self.headline is not None:
            parts.append(self.headline.text)
        parts.append(tables_text(self.tables).rstrip("\n"))
        parts += [f"note: {n}" for n in self.notes]
        return "\n".join(parts)

    def page(self) -> PageData:
        blocks: list[TableData | Chart | Paragraph] = [*self.tables, *self.charts]
        blocks += [Paragraph(n) for n in self.notes]
        return PageData(
            kind=self.kind,
            title=self.title,
            sections=(Section(self.kind.capitalize(), tuple(blocks)),),
            headline=self.headline,
            context=self.context,
        )

    def write(self, folder: Path, redactor: Redactor) -> list[Path]:
        day = dt.datetime.now(dt.UTC).date().isoformat()
        md = write_text_redacted(
            folder / f"{self.kind}-{day}.md",
            markdown_of(self.title, self.tables, self.notes, self.headline),
            redactor,
        )
        page_html = write_page(
            self.page(), folder / f"{self.kind}-{day}.html", scripts="beside", redactor=redactor
        )
        paths = [md, page_html]
        for name, text in self.extra_files.items():
            paths.append(write_text_redacted(folder / name, text, redactor))
        return paths


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ") or " "


def markdown_of(
    title: str,
    tables: Iterable[TableData],
    notes: Iterable[str] = (),
    headline: Callout | None = None,
) -> str:
    """The tables as GitHub-flavoured Markdown tables under ``# title``."""
    lines = [f"# {title}", ""]
    if headline is not None:
        lines += [f"**{headline.text}**", ""]
    for table in tables:
        if table.title:
            lines += [f"## {table.title}", ""]
        head = table.columns if table.header else ("", "")
        lines.append("| " + " | ".join(_cell(c) for c in head) + " |")
        lines.append(
            "|" + "".join("---:|" if table.is_numeric(i) else "---|" for i in range(len(head)))
        )
        rows = table.rows or (("none", *[""] * (len(head) - 1)),)
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        if table.note:
            lines += ["", table.note]
        lines.append("")
    lines += [f"- note: {n}" for n in notes]
    return "\n".join(lines).rstrip("\n") + "\n"
