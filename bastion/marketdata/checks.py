"""Completeness checks on stored bars (R2.5), and the usable/unusable verdict.

The checks, in the order they run on one contract and bar size:

1. ``outside_session`` (error): a bar that starts outside every session window of its
   trading day, usually a timezone mistake.
2. ``missing_day`` (error): a trading day between the first bar and the latest
   completed trading day without any bar.
3. ``missing_minutes`` (1m bars only): minutes inside session windows without a bar.
   A day missing more than ``max_missing_fraction`` of its minutes is an error; fewer
   missing minutes are a warning (illiquid contracts skip minutes without trades).
4. ``stale`` (error): the last bar's trading day is before the latest completed
   trading day, or the market is open and the last minute bar is older than
   ``stale_after``.
5. ``spike`` (error): a close-to-close move larger than ``spike_sigmas`` robust
   standard deviations (1.4826 x median absolute move) and at least ``spike_min_ticks``.

Before them: bars that start after ``now`` are an error (``future``); bars on dates the
calendar does not cover (``coverage``, less ``COVERAGE_MARGIN`` at each end for minute
bars) are not checked and are reported as ``unchecked``: a warning for history before
the calendar's range (exchange_calendars starts about twenty years back, pysystemtrade
history goes back decades), an error for bars after it (the calendar needs extending
before they can be used). A ``now`` the calendar cannot place is an ``unchecked`` error
too. A series none of whose bars could be judged is ``UNCHECKED``: not usable for
executable orders, not a failure either. Each series is judged on its own.

A report with any error marks the data unusable for executable orders. Verdicts are
kept in ``<data_dir>/status/checks.json``; ``is_usable`` answers False for anything
never checked (fail closed). Daily bars (``1d``) carry the trading day at 00:00 UTC as
their ``ts``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from bastion.domain.ids import ContractId
from bastion.marketdata._atomic import write_text
from bastion.marketdata.calendars import CalendarCoverageError, SessionCalendar

__all__ = ["CheckConfig", "CheckReport", "Issue", "check_bars", "is_usable", "record_reports"]

_TS = pl.Datetime("us", "UTC")
_MAX_LISTED = 5
COVERAGE_MARGIN = dt.timedelta(days=15)
"""Minute bars this close to either end of a calendar's coverage are not judged: finding
their trading day may need days beyond it (a long holiday)."""


@dataclass(frozen=True, slots=True)
class Issue:
    check: str
    severity: str  # "error" | "warning"
    detail: str


@dataclass(frozen=True, slots=True)
class CheckConfig:
    max_missing_fraction: float = 0.05
    stale_after: dt.timedelta = dt.timedelta(minutes=5)
    spike_sigmas: float = 12.0
    spike_min_ticks: int = 5


@dataclass
class CheckReport:
    contract: ContractId
    bar_size: str
    bars: int
    first: dt.datetime | None
    last: dt.datetime | None
    issues: list[Issue] = field(default_factory=list)
    checked: int | None = None
    """How many bars the calendar could judge (``None``: all of them)."""

    @property
    def failed(self) -> bool:
        """Any error: the series is unusable, and ``bastion data check`` says so."""
        return self.bars == 0 or any(i.severity == "error" for i in self.issues)

    @property
    def unchecked(self) -> bool:
        """Nothing failed, but no bar could be judged (all before the calendar's range)."""
        return not self.failed and self.checked == 0

    @property
    def usable(self) -> bool:
        """Whether executable orders may use the series: judged, and without errors."""
        return not self.failed and not self.unchecked

    @property
    def verdict(self) -> str:
        return "UNCHECKED" if self.unchecked else "usable" if self.usable else "UNUSABLE"

    def add(self, check: str, severity: str, detail: str) -> None:
        self.issues.append(Issue(check, severity, detail))


def _windows_frame(calendar: SessionCalendar, days: list[dt.date]) -> pl.DataFrame:
    rows = [(day, a, b) for day in days for a, b in calendar.windows(day)]
    return pl.DataFrame(rows, schema={"day": pl.Date, "start": _TS, "end": _TS}, orient="row")


def _listed(values: Sequence[object]) -> str:
    shown = ", ".join(str(v) for v in values[:_MAX_LISTED])
    return shown + (f" and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else "")


def check_bars(  # noqa: PLR0917 - the subject and its context, in reading order
    contract: ContractId,
    bar_size: str,
    bars: pl.DataFrame,
    calendar: SessionCalendar,
    now: dt.datetime,
    config: CheckConfig | None = None,
    last_trade: dt.date | None = None,
) -> CheckReport:
    """Run the checks on ``bars`` (``BAR_SCHEMA``) as of ``now``.

    ``last_trade`` (the contract's last trading date) ends the expected days early.
    """
    cfg = config or CheckConfig()
    if bars.height == 0:
        report = CheckReport(contract, bar_size, 0, None, None)
        report.add("empty", "error", "no bars stored")
        return report
    report = CheckReport(contract, bar_size, bars.height, bars["ts"][0], bars["ts"][-1])
    future = bars.filter(pl.col("ts") > now)
    if future.height:
        report.add(
            "future",
            "error",
            f"{future.height} bar(s) start after {now:%Y-%m-%d %H:%M} UTC:"
            f" {_listed(future['ts'].to_list())}",
        )
    checked = _covered(report, bars.filter(pl.col("ts") <= now), calendar, bar_size)
    if checked.height == 0:
        return report
    try:
        _check_covered(report, checked, calendar, now, cfg, last_trade)
    except CalendarCoverageError as exc:
        report.add("unchecked", "error", f"cannot be judged as of {now:%Y-%m-%d %H:%M} UTC: {exc}")
    return report


def _covered(
    report: CheckReport, bars: pl.DataFrame, calendar: SessionCalendar, bar_size: str
) -> pl.DataFrame:
    """The bars the calendar can judge; the others are reported as unchecked (an error
    when they include the latest bar, which is what trading would use)."""
    if calendar.coverage is None or bars.height == 0:
        return bars
    first, last = calendar.coverage
    if bar_size == "1d":
        lo, hi = first, last
    else:
        lo, hi = first + COVERAGE_MARGIN, last - COVERAGE_MARGIN
    day = pl.col("ts").dt.date()
    before = bars.filter(day < lo)["ts"]
    after = bars.filter(day > hi)["ts"]
    if before.len():
        report.add(
            "unchecked",
            "warning",
            f"{before.len()} bar(s) from {before[0]:%Y-%m-%d} to {before[-1]:%Y-%m-%d} lie before"
            f" what calendar {calendar.name} can judge (from {lo}): history, not checked",
        )
    if after.len():
        report.add(
            "unchecked",
            "error",
            f"{after.len()} bar(s) from {after[0]:%Y-%m-%d} to {after[-1]:%Y-%m-%d} lie after"
            f" what calendar {calendar.name} can judge (to {hi}): not checked; the calendar"
            " needs extending before these bars can be used",
        )
    inside = bars.filter((day >= lo) & (day <= hi))
    report.checked = inside.height
    return inside


def _check_covered(  # noqa: PLR0917 - the checks' context, in reading order
    report: CheckReport,
    bars: pl.DataFrame,
    calendar: SessionCalendar,
    now: dt.datetime,
    cfg: CheckConfig,
    last_trade: dt.date | None,
) -> None:
    bar_size = report.bar_size
    latest = calendar.latest_completed_trading_day(now)
    if last_trade is not None:
        latest = min(latest, last_trade)
    if bar_size == "1d":
        on_day = bars.select(pl.col("ts").dt.date().alias("day"), "ts")
        first_day = on_day["day"][0]
    else:
        first_day = calendar.trading_day_of(bars["ts"][0])
        end_day = max(calendar.trading_day_of(bars["ts"][-1]), latest)
        windows = _windows_frame(calendar, calendar.trading_days(first_day, end_day))
        on_day = bars.select("ts").join_asof(
            windows.sort("start"), left_on="ts", right_on="start", strategy="backward"
        )
        outside = on_day.filter(pl.col("end").is_null() | (pl.col("ts") >= pl.col("end")))
        if outside.height:
            report.add(
                "outside_session",
                "error",
                f"{outside.height} bar(s) outside the sessions: {_listed(outside['ts'].to_list())}",
            )
    _missing_days(report, calendar, set(on_day["day"].drop_nulls().to_list()), first_day, latest)
    if bar_size == "1m":
        _missing_minutes(report, bars, windows, cfg)
    expired = last_trade is not None and last_trade < calendar.trading_day_of(now)
    _stale(report, bars, calendar, bar_size, latest, now, cfg, expired=expired)
    _spikes(report, bars, cfg)


def _missing_days(
    report: CheckReport,
    calendar: SessionCalendar,
    seen: set[dt.date],
    first: dt.date,
    latest: dt.date,
) -> None:
    expected = calendar.trading_days(first, latest)
    missing = [d for d in expected if d not in seen]
    if missing:
        report.add(
            "missing_day",
            "error",
            f"{len(missing)} trading day(s) without bars: {_listed(missing)}",
        )


def _missing_minutes(
    report: CheckReport, bars: pl.DataFrame, windows: pl.DataFrame, cfg: CheckConfig
) -> None:
    last = bars["ts"][-1]
    days_with_bars = windows.filter(pl.col("start") <= last)
    if days_with_bars.height == 0:
        return
    expected = (
        days_with_bars.with_columns(
            pl.datetime_ranges(
                "start", pl.col("end") - pl.duration(minutes=1), interval="1m"
            ).alias("ts")
        )
        .explode("ts")
        .select("day", pl.col("ts").cast(_TS))
        .filter(pl.col("ts") <= last)
    )
    missing = expected.join(bars.select("ts"), on="ts", how="anti")
    if missing.height == 0:
        return
    per_day = (
        missing.group_by("day")
        .agg(pl.len().alias("missing"), pl.col("ts").min().alias("first"))
        .join(expected.group_by("day").agg(pl.len().alias("total")), on="day")
        .sort("day")
        .with_columns((pl.col("missing") / pl.col("total")).alias("fraction"))
    )
    bad = per_day.filter(pl.col("fraction") > cfg.max_missing_fraction)
    severity = "error" if bad.height else "warning"
    worst = bad if bad.height else per_day
    listed = [
        f"{r['day']} ({r['missing']}/{r['total']}, from {r['first']:%H:%M} UTC)"
        for r in worst.iter_rows(named=True)
    ]
    report.add(
        "missing_minutes",
        severity,
        f"{missing.height} minute(s) missing in sessions on {per_day.height} day(s); "
        f"{bad.height} day(s) above {cfg.max_missing_fraction:.0%}: {_listed(listed)}",
    )


def _stale(  # noqa: PLR0917 - private helper taking the check's context
    report: CheckReport,
    bars: pl.DataFrame,
    calendar: SessionCalendar,
    bar_size: str,
    latest: dt.date,
    now: dt.datetime,
    cfg: CheckConfig,
    *,
    expired: bool,
) -> None:
    last = bars["ts"][-1]
    last_day = last.date() if bar_size == "1d" else calendar.trading_day_of(last)
    if last_day < latest:
        report.add(
            "stale",
            "error",
            f"last bar is on {last_day}; the latest completed trading day is {latest}",
        )
    elif (
        bar_size == "1m" and not expired and calendar.is_open(now) and now - last > cfg.stale_after
    ):
        report.add(
            "stale",
            "error",
            f"market open and the last bar is {now - last} old (limit {cfg.stale_after})",
        )


def _spikes(report: CheckReport, bars: pl.DataFrame, cfg: CheckConfig) -> None:
    moves = bars.select("ts", pl.col("close_ticks").diff().alias("move")).drop_nulls()
    if moves.height < 10:
        return
    median = moves["move"].abs().median()
    scale = float(median if isinstance(median, int | float) else 0) * 1.4826
    limit = max(cfg.spike_sigmas * scale, float(cfg.spike_min_ticks))
    spikes = moves.filter(pl.col("move").abs() > limit)
    if spikes.height:
        listed = [f"{r['ts']} ({r['move']:+d} ticks)" for r in spikes.iter_rows(named=True)]
        report.add(
            "spike", "error", f"{spikes.height} move(s) above {limit:.0f} ticks: {_listed(listed)}"
        )


# ------------------------------------------------------------------ verdicts


def _status_path(data_dir: Path) -> Path:
    return Path(data_dir) / "status" / "checks.json"


def record_reports(data_dir: Path, reports: list[CheckReport], checked_at: dt.datetime) -> None:
    """Store each report's verdict (merged with earlier verdicts of other series)."""
    path = _status_path(data_dir)
    status = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for report in reports:
        status[f"{report.contract}|{report.bar_size}"] = {
            "usable": report.usable,
            "checked_at": checked_at.isoformat(),
            "last_bar": report.last.isoformat() if report.last else None,
            "issues": [asdict(i) for i in report.issues],
        }
    write_text(json.dumps(status, indent=1, sort_keys=True), path)


def is_usable(data_dir: Path, contract: ContractId, bar_size: str) -> bool:
    """Whether executable orders may use this data: False if failed or never checked."""
    path = _status_path(data_dir)
    if not path.exists():
        return False
    entry = json.loads(path.read_text(encoding="utf-8")).get(f"{contract}|{bar_size}")
    return bool(entry and entry.get("usable") is True)
