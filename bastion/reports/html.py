"""The one HTML template every report page uses (``templates/page.html.j2``).

A page is a title, an optional headline, the run's context, and sections of tables
(the same ``TableData`` the terminal draws), plotly charts and short notes. The
template escapes every text; charts are plotly figures with dated axes.

No page ever needs the network: the plotly library is either inlined into the page
(``scripts="inline"``: one file that can be mailed or archived alone; the backtest
report) or written once beside the pages as ``assets/plotly-<version>.min.js``
(``scripts="beside"``: the operational reports, written every day, stay small). A page
without charts carries no script at all.

``line_chart`` and ``page`` are the old hand-drawn SVG helpers, kept working for
callers not yet moved to the template; new reports do not use them.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2

from bastion.reports.tables import TableData
from bastion.secrets import Redactor

__all__ = [
    "Callout",
    "Chart",
    "PageData",
    "Paragraph",
    "Section",
    "line_chart",
    "page",
    "render_page",
    "write_page",
]

Scripts = Literal["inline", "beside"]


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    figure: Any
    """A ``plotly.graph_objects.Figure``."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Callout:
    text: str
    tone: str = "info"
    """``good``, ``bad``, ``warn`` or ``info``."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


Block = TableData | Chart | Callout | Paragraph


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-") or "section"


@dataclass(frozen=True, slots=True)
class PageData:
    kind: str
    title: str
    sections: tuple[Section, ...]
    subtitle: str = ""
    headline: Callout | None = None
    context: tuple[tuple[str, str], ...] = ()
    generated: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bastion.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    return env.get_template("page.html.j2")


def _chart_html(chart: Chart, index: int) -> str:
    import plotly.io as pio

    text: str = pio.to_html(
        chart.figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{index}",
        config={"displaylogo": False, "responsive": True},
    )
    return text


@dataclass(frozen=True, slots=True)
class _Rendered:
    kind: str
    data: TableData | None = None
    title: str = ""
    html: str = ""
    note: str = ""
    text: str = ""
    tone: str = ""


@dataclass(frozen=True, slots=True)
class _SectionView:
    heading: str
    anchor: str
    rendered: list[_Rendered]


def _render_blocks(page_data: PageData) -> list[_SectionView]:
    views: list[_SectionView] = []
    index = 0
    for section in page_data.sections:
        rendered: list[_Rendered] = []
        for block in section.blocks:
            if isinstance(block, TableData):
                rendered.append(_Rendered("table", data=block))
            elif isinstance(block, Chart):
                index += 1
                rendered.append(
                    _Rendered(
                        "chart", title=block.title, html=_chart_html(block, index), note=block.note
                    )
                )
            elif isinstance(block, Callout):
                rendered.append(_Rendered("callout", text=block.text, tone=block.tone))
            else:
                rendered.append(_Rendered("paragraph", text=block.text))
        views.append(_SectionView(section.heading, section.anchor, rendered))
    return views


def plotly_version() -> str:
    import plotly

    return str(plotly.__version__)


_LIBRARY = "/*plotly library*/"


def _render(page_data: PageData, *, inline: str = "", src: str = "") -> str:
    view = {
        "title": page_data.title,
        "subtitle": page_data.subtitle,
        "headline": page_data.headline,
        "context": page_data.context,
        "sections": _render_blocks(page_data),
        "generated": page_data.generated.strftime("%Y-%m-%d %H:%M UTC"),
    }
    return _template().render(page=view, kind=page_data.kind, plotly_inline=inline, plotly_src=src)


def _asset_name() -> str:
    return f"assets/plotly-{plotly_version()}.min.js"


def render_page(page_data: PageData, *, scripts: Scripts = "inline") -> str:
    """The page as HTML. ``scripts="beside"`` refers to ``assets/plotly-<v>.min.js``."""
    if not page_data.charts:
        return _render(page_data)
    if scripts == "beside":
        return _render(page_data, src=_asset_name())
    from plotly.offline import get_plotlyjs

    return _render(page_data, inline=_LIBRARY).replace(_LIBRARY, get_plotlyjs(), 1)


def write_page(
    page_data: PageData,
    path: Path,
    *,
    scripts: Scripts = "inline",
    redactor: Redactor | None = None,
) -> Path:
    """Write the page atomically (a temporary file renamed over the target), and for
    ``scripts="beside"`` the plotly library beside it once. The redactor runs over the
    page's own text, never over the library (nothing secret is in it, and scanning five
    megabytes of JavaScript for secrets is wasted work)."""
    from plotly.offline import get_plotlyjs

    charts = bool(page_data.charts)
    if scripts == "beside" and charts:
        asset = path.parent / _asset_name()
        if not asset.exists():
            _atomic_write(asset, get_plotlyjs())
    if not charts:
        text = _render(page_data)
    elif scripts == "beside":
        text = _render(page_data, src=_asset_name())
    else:
        text = _render(page_data, inline=_LIBRARY)
    if redactor is not None:
        text = redactor(text)
    if charts and scripts == "inline":
        text = text.replace(_LIBRARY, get_plotlyjs(), 1)
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, text: str) -> None:
    from bastion.files import write_atomically

    write_atomically(path, text, "report")


def line_chart(
    values: Sequence[float], *, title: str, width: int = 720, height: int = 220, fill: bool = False
) -> str:
    """An SVG line chart of ``values`` (legacy: no dates or axes; use ``Chart``)."""
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / max(1, len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - (v - lo) / span * (height - 20) - 10:.1f}"
        for i, v in enumerate(values)
    )
    area = (
        f'<polygon points="0,{height} {points} {width},{height}" fill="#f4c7c3" />' if fill else ""
    )
    return (
        f"<h3>{html.escape(title)}</h3>"
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}"'
        f' style="border:1px solid #ccc">{area}'
        f'<polyline points="{points}" fill="none" stroke="#1a5fb4" stroke-width="1.5" />'
        f'<text x="4" y="12" font-size="10">{hi:,.2f}</text>'
        f'<text x="4" y="{height - 2}" font-size="10">{lo:,.2f}</text></svg>'
    )


def page(title: str, sections: Sequence[str]) -> str:
    """A bare page around already-rendered HTML fragments (legacy; use ``PageData``)."""
    body = "\n".join(sections)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        "</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
