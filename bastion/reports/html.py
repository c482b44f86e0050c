"""Small, dependency-free HTML reports with inline SVG charts."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["line_chart", "page"]


def line_chart(
    values: Sequence[float], *, title: str, width: int = 720, height: int = 220, fill: bool = False
) -> str:
    """An SVG line chart of ``values`` (one point per period)."""
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
    body = "\n".join(sections)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        "</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
