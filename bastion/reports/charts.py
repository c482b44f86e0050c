"""Plotly figures for the report pages: every chart has a dated x axis, labelled axes,
a grid and hover values.

The underwater chart fills between the drawdown and zero (``fill="tozeroy"``), so a
day at a new high draws nothing and a drawdown hangs below the zero line; points in
time that are not a series (fills) are markers, never a connected line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bastion.backtest.analytics import MonthlyReturn

__all__ = [
    "bars_by_day",
    "equity_chart",
    "monthly_heatmap",
    "points_in_time",
    "rolling_chart",
    "underwater_chart",
]

COLOURS = ("#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#cf222e")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _figure(*, y_title: str, height: int = 340, y_format: str = "") -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 40},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.08, "x": 0},
    )
    fig.update_xaxes(type="date", showgrid=True, title_text="date (UTC)")
    fig.update_yaxes(showgrid=True, zeroline=True, title_text=y_title, tickformat=y_format)
    return fig


def equity_chart(
    dates: Sequence[dt.date],
    lines: Mapping[str, Sequence[float | None]],
    *,
    y_title: str,
) -> Any:
    """One line per named series over ``dates`` (the first is drawn strongest)."""
    import plotly.graph_objects as go

    fig = _figure(y_title=y_title, y_format=",.0f")
    for n, (name, values) in enumerate(lines.items()):
        fig.add_trace(
            go.Scatter(
                x=list(dates),
                y=list(values),
                name=name,
                mode="lines",
                line={"color": COLOURS[n % len(COLOURS)], "width": 2.2 if n == 0 else 1.4},
                hovertemplate="%{y:,.2f}",
            )
        )
    return fig


def underwater_chart(dates: Sequence[dt.date], drawdown: Sequence[float]) -> Any:
    """Drawdown from the running peak (fractions, <= 0), filled up to zero."""
    import plotly.graph_objects as go

    fig = _figure(y_title="drawdown from peak", height=260, y_format=".1%")
    fig.add_trace(
        go.Scatter(
            x=list(dates),
            y=list(drawdown),
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": "#cf222e", "width": 1.2},
            fillcolor="rgba(207,34,46,0.25)",
            hovertemplate="%{y:.2%}",
        )
    )
    low = min(drawdown, default=0.0)
    fig.update_yaxes(range=[min(low * 1.15, -0.001), 0.0005])
    return fig


def monthly_heatmap(months: Sequence[MonthlyReturn]) -> Any:
    """Years down, months across, each cell the month's compounded return."""
    import plotly.graph_objects as go

    years = sorted({m.year for m in months})
    grid: list[list[float | None]] = [[None] * 12 for _ in years]
    text: list[list[str]] = [[""] * 12 for _ in years]
    for m in months:
        row = years.index(m.year)
        grid[row][m.month - 1] = m.value
        text[row][m.month - 1] = f"{m.value:+.2%}"
    largest = max((abs(m.value) for m in months), default=0.01) or 0.01
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(MONTHS),
            y=[str(y) for y in years],
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
            colorscale=[[0.0, "#cf222e"], [0.5, "#ffffff"], [1.0, "#1a7f37"]],
            zmin=-largest,
            zmax=largest,
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        template="plotly_white",
        height=90 + 45 * len(years),
        margin={"l": 60, "r": 20, "t": 10, "b": 30},
    )
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(type="category", side="top")
    return fig


def rolling_chart(
    dates: Sequence[dt.date], values: Sequence[float | None], *, name: str, y_format: str = ""
) -> Any:
    import plotly.graph_objects as go

    fig = _figure(y_title=name, height=260, y_format=y_format)
    fig.add_trace(
        go.Scatter(
            x=list(dates),
            y=list(values),
            name=name,
            mode="lines",
            connectgaps=False,
            line={"color": COLOURS[1], "width": 1.6},
            hovertemplate="%{y:.2f}" if not y_format else f"%{{y:{y_format}}}",
        )
    )
    return fig


def bars_by_day(
    dates: Sequence[dt.date], bars: Mapping[str, Sequence[float]], *, y_title: str
) -> Any:
    """Grouped bars per day, one colour per named series (daily P&L per currency)."""
    import plotly.graph_objects as go

    fig = _figure(y_title=y_title, height=280, y_format=",.0f")
    for n, (name, values) in enumerate(bars.items()):
        fig.add_trace(
            go.Bar(
                x=list(dates),
                y=list(values),
                name=name,
                marker_color=COLOURS[n % len(COLOURS)],
                hovertemplate="%{y:,.2f}",
            )
        )
    fig.update_layout(barmode="group")
    return fig


def points_in_time(
    times: Sequence[dt.datetime],
    values: Sequence[float],
    labels: Sequence[str],
    *,
    name: str,
    y_title: str,
) -> Any:
    """Separate events (fills) as markers at their timestamps, with a zero line."""
    import plotly.graph_objects as go

    fig = _figure(y_title=y_title, height=300)
    fig.update_xaxes(title_text="time (UTC)")
    fig.add_trace(
        go.Scatter(
            x=list(times),
            y=list(values),
            text=list(labels),
            name=name,
            mode="markers",
            marker={"color": COLOURS[0], "size": 7, "opacity": 0.75},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>%{text}<br>%{y:+.2f}<extra></extra>",
        )
    )
    fig.update_layout(hovermode="closest")
    fig.add_hline(y=0, line_color="#57606a", line_width=1)
    return fig
