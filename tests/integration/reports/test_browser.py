"""Invariant: the backtest report and the daily report render in a real browser
(Debian's headless Chromium) without a console error or a network request, every chart
draws, the page shows the figures the terminal printed, and the underwater chart in the
page is filled to zero, never to the bottom (R9.4; issue 20).

Skips, saying why, when Chromium (``apt-get install chromium``, done by ``.ci/run``) or
the Playwright package (the ``test`` extra) is absent; it never downloads a browser.
With ``BASTION_SCREENSHOTS=1`` it also saves the screenshots the docs show
(``docs/img/*.png``); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integration.reports.conftest import Run, make_workdir, run_in, terminal_value

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_IMG = REPO / "docs" / "img"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (see .ci/run)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Opened:
    def __init__(self, page: Any, errors: list[str], requests: list[str]) -> None:
        self.page, self.errors, self.requests = page, errors, requests

    @property
    def text(self) -> str:
        return str(self.page.inner_text("body"))


def _open(browser: Any, path: Path) -> Opened:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in {"error", "warning"} else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(path.as_uri(), wait_until="load")
    # Every chart has drawn once plotly has put its SVG into each chart's div.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".every(d => d.querySelector('svg.main-svg'))"
    )
    return Opened(page, errors, requests)


def _screenshot(opened: Opened, name: str, tmp_path: Path, *, clip_height: int | None) -> Path:
    target = DOCS_IMG if os.environ.get("BASTION_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    if clip_height is None:
        opened.page.screenshot(path=str(path), full_page=True)
    else:
        opened.page.screenshot(
            path=str(path),
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": clip_height},
        )
    assert path.stat().st_size > 10_000
    return path


def _scroll_to(opened: Opened, anchor: str) -> None:
    opened.page.locator(f"#{anchor}").scroll_into_view_if_needed()


def test_backtest_report_in_browser_no_errors_terminal_figures_shown(
    browser: Any, backtest: Run, tmp_path: Path
) -> None:
    opened = _open(browser, backtest.page)
    assert opened.errors == []
    assert opened.requests == []
    charts = opened.page.locator(".js-plotly-plot").count()
    assert charts >= 8
    text = opened.text
    out = backtest.result.out
    for label in ("compounded return", "max drawdown", "Sharpe", "Sortino", "win rate (days)"):
        assert terminal_value(out, label) in text
    for figure in re.findall(r"^USD\s+([+-][\d,]+\.\d\d)", out, flags=re.MULTILINE):
        assert figure in text
    underwater = opened.page.evaluate(
        "() => { const d = [...document.querySelectorAll('.js-plotly-plot')]"
        ".find(e => e.data[0].name === 'drawdown'); return [d.data[0].fill,"
        " Math.max(...d.data[0].y), d.layout.yaxis.range[1]]; }"
    )
    fill, highest, top = underwater
    assert fill == "tozeroy"
    assert highest == 0
    assert top >= 0
    _screenshot(opened, "backtest-report.png", tmp_path, clip_height=2050)
    shots = DOCS_IMG if os.environ.get("BASTION_SCREENSHOTS") == "1" else tmp_path
    for anchor, name in (("monthly-returns", "monthly"), ("trades", "trades")):
        _scroll_to(opened, anchor)
        opened.page.screenshot(path=str(shots / f"backtest-report-{name}.png"))


def test_daily_report_in_browser_no_errors_terminal_figures_shown(
    browser: Any, tmp_path: Path, sample_data: Path
) -> None:
    folder = make_workdir(tmp_path / "day", sample_data)
    for args in (
        ["session", "--profile", "examples/sim.yaml", "--end", "2024-02-20"],
        ["probe", "-p", "examples/sim.yaml"],
        ["shadow", "-p", "examples/sim.yaml", "--date", "2024-04-30"],
        ["gate", "dry-run", "-p", "examples/sim.yaml"],
    ):
        assert run_in(folder, args).code in {0, 3}, args
    result = run_in(folder, ["report", "daily", "-p", "examples/sim.yaml"])
    assert result.code in {0, 3}, result.err  # a sim day's gate blocks: the report says NO
    page = next((folder / "runs" / "sim" / "records" / "reports").glob("daily-*.html"))
    opened = _open(browser, page)
    assert opened.errors == []
    assert opened.requests == []
    assert opened.page.locator(".js-plotly-plot").count() == 1
    text = opened.text
    headline = next(x for x in result.out.splitlines() if x.startswith("MAY TONIGHT"))
    assert headline.split("? ", 1)[1] in text
    for currency in ("USD", "CNY"):
        line = next(x for x in result.out.splitlines() if x.startswith(f"{currency} "))
        for figure in re.findall(r"[+-]?[\d,]+\.\d\d", line):
            assert figure in text, f"{currency} {figure} not on the daily page"
    _screenshot(opened, "daily-report.png", tmp_path, clip_height=None)
