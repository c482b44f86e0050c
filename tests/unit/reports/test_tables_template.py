"""Invariant: one table model feeds the terminal (rich) and the page (the shared
template) with the same cells; the template escapes text; a page without charts
carries no script, and a page with charts never loads anything from the network."""

from __future__ import annotations

import re

import plotly.graph_objects as go

from bastion.reports.html import Callout, Chart, PageData, Paragraph, Section, render_page
from bastion.reports.tables import facts_table, grid, text_of

TABLE = grid(
    "Trades",
    ("contract", "net P&L"),
    [("SP500/202406", "+1,234.50"), ("rb/202410", "-99.00")],
    note="money in each contract's currency",
)


def test_terminal_and_page_show_same_cells() -> None:
    text = text_of([TABLE])
    page = render_page(PageData("t", "Title", (Section("One", (TABLE,)),)))
    for cell in ("SP500/202406", "+1,234.50", "rb/202410", "-99.00"):
        assert cell in text
        assert f">{cell}</t" in page
    assert "─" in text  # drawn by rich, not padded by hand
    assert re.search(r'<td class="num">\+1,234.50</td>', page)


def test_wide_table_text_never_cut() -> None:
    wide = grid("wide", [f"column {i}" for i in range(14)], [[f"value-{i:02d}" for i in range(14)]])
    text = text_of([wide])
    assert all(f"value-{i:02d}" in text for i in range(14))


def test_template_escapes_text() -> None:
    hostile = facts_table("<b>x</b>", [("<script>alert(1)</script>", "a & b")])
    page = render_page(
        PageData(
            "t",
            "<i>title</i>",
            (Section("s", (hostile, Paragraph("<img src=x>"))),),
            headline=Callout("<b>go</b>"),
        )
    )
    assert "<script>alert" not in page
    assert "<img src=x>" not in page
    assert "&lt;i&gt;title&lt;/i&gt;" in page


def test_page_without_charts_has_no_script_with_charts_inlines_library() -> None:
    plain = render_page(PageData("t", "T", (Section("s", (TABLE,)),)))
    assert "<script" not in plain
    figure = go.Figure(go.Scatter(x=["2024-01-02"], y=[1]))
    charted = PageData("t", "T", (Section("s", (Chart("c", figure),)),))
    inline = render_page(charted, scripts="inline")
    assert "Plotly.newPlot" in inline
    assert not re.search(r"<script[^>]+src=", inline)
    beside = render_page(charted, scripts="beside")
    assert re.search(r'<script src="assets/plotly-[\d.]+\.min\.js">', beside)
    assert len(beside) < 20_000 < len(inline)
