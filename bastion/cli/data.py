"""``bastion data``: import, update, check and inspect market data.

The data directory is ``--data-dir``, else the ``data.dir`` of ``--profile/-p``, else
the official profile's, else ``$BASTION_DATA_DIR``, else ``./bastion-data``.
``data check`` exits 3 when a series is unusable for executable orders (a verdict of
NO, the table in ``bastion.cli.exits``); ``data update`` imports the files waiting in
the profile's drop folder (``data.drop_dir``), never the network.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from bastion.cli.exits import ExitCode
from bastion.cli.numbers import MAX_REVISE_DAYS, MAX_ROLL_EARLY_DAYS, bounded
from bastion.cli.progress import import_progress
from bastion.cli.runs import JsonOpt, ProfileArg, emit_json
from bastion.errors import DataError, UserError
from bastion.marketdata.specs import MarketSpec, SpecRegistry
from bastion.reports.tables import TableData, grid, stdout_text, text_of

if TYPE_CHECKING:
    from bastion.marketdata.checks import CheckReport

__all__ = ["DataDirOpt", "ProfileOpt", "data_app", "data_dir_of"]

data_app = typer.Typer(
    help="Market data: import, check, roll calendars, adjusted series, samples.",
    no_args_is_help=True,
)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (default: profile, $BASTION_DATA_DIR, ./bastion-data)."
    ),
]
ProfileOpt = ProfileArg
SpecsOpt = Annotated[
    list[Path] | None, typer.Option("--specs", help="Extra contract spec YAML files (repeatable).")
]


def data_dir_of(data_dir: Path | None, profile: str | Path | None) -> Path:
    """The data directory (see the module docstring): ``--data-dir``, else the named
    profile's, else the official profile's, else ``$BASTION_DATA_DIR`` or
    ``bastion-data``. Its imported calendar years are put in use
    (``bastion.marketdata.calendars.use_operator_calendars``)."""
    from bastion.gates.profiles import official_profile, resolve_profile
    from bastion.marketdata.calendars import use_operator_calendars

    if data_dir is not None:
        found = data_dir
    elif profile is not None:
        found = Path(resolve_profile(str(profile)).profile.data.dir)
    elif (official := official_profile()) is not None:
        found = Path(official.data.dir)
    else:
        found = Path(os.environ.get("BASTION_DATA_DIR", "bastion-data"))
    use_operator_calendars(found)
    return found


_data_dir = data_dir_of


def _registry(specs: list[Path] | None) -> SpecRegistry:

    return SpecRegistry.load(specs or [])


def _parse_now(now: str | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(now)
    except ValueError:
        raise UserError(
            f"--now {now!r} is not an ISO 8601 time (e.g. 2024-04-30T21:00+00:00)"
        ) from None
    if parsed.tzinfo is None:
        raise UserError(f"--now {now!r} needs a UTC offset (e.g. 2024-04-30T21:00Z)")
    return parsed.astimezone(dt.UTC)


@data_app.command("import")
def import_bars(  # noqa: PLR0917 - typer maps parameters to options
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet bar file, or a folder of them.")],
    contract: Annotated[
        str | None,
        typer.Option(help="Contract for files without a 'contract' column (rb2510, rb/202510)."),
    ] = None,
    bar_size: Annotated[str, typer.Option("--bar-size", help="1m, 5m, 15m, 1h or 1d.")] = "1m",
    timezone: Annotated[
        str | None, typer.Option(help="Timezone of timestamps that carry no UTC offset.")
    ] = None,
    revise_days: Annotated[
        int,
        typer.Option(
            "--revise-days",
            help="Stored bars of the latest N trading days may be replaced (0 to 366).",
            callback=bounded("--revise-days", 0, MAX_REVISE_DAYS, unit="trading days"),
        ),
    ] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Also replace older stored bars that differ.")
    ] = False,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """Import bars; every row of every file is checked before anything is written."""
    from bastion.marketdata.bars import BarStore, check_bar_size
    from bastion.marketdata.importers.files import ImportOptions, import_bar_files

    registry = _registry(specs)
    check_bar_size(bar_size)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet"})
    elif path.exists():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or folder")
    if not files:
        raise DataError(f"{path}: no .csv or .parquet files")
    store = BarStore(_data_dir(data_dir, profile))
    options = ImportOptions(
        bar_size=bar_size,
        contract=contract,
        timezone=timezone,
        revise_days=revise_days,
        replace=replace,
    )
    with import_progress() as progress:
        results = import_bar_files(files, store, registry, options, progress)
    for result in results:
        for update in result.updates:
            typer.echo(update.line())


@data_app.command("import-pysystemtrade")
def import_pysystemtrade_cmd(  # noqa: PLR0917 - typer maps parameters to options
    folder: Annotated[Path, typer.Argument(help="pysystemtrade data/futures folder.")],
    revise_days: Annotated[
        int,
        typer.Option(
            "--revise-days",
            help="Stored multiple prices of the latest N days may be revised (0 to 366).",
            callback=bounded("--revise-days", 0, MAX_REVISE_DAYS, unit="days"),
        ),
    ] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Also replace older stored prices that differ.")
    ] = False,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
    specs: SpecsOpt = None,
) -> None:
    """Import multiple/adjusted prices, roll calendars and config; build Panama series.

    Checked as ``data import`` checks bars (dates, finite and positive prices unless the
    spec allows negative ones, per-instrument bounds); multiple prices are merged with
    the stored ones, and older history is replaced only with --replace.
    """
    from bastion.marketdata.adjust import panama
    from bastion.marketdata.importers.pysystemtrade import import_pysystemtrade
    from bastion.marketdata.revisions import RevisionRule
    from bastion.marketdata.rolls import rolls_from_multiple
    from bastion.marketdata.series import SeriesStore

    store = SeriesStore(_data_dir(data_dir, profile))
    rule = RevisionRule(days=revise_days, replace_history=replace)
    summary = import_pysystemtrade(folder, store, _registry(specs), rule)
    for name in summary.instruments:
        multiple = store.read(name, "multiple")
        result = panama(multiple)
        store.write(name, "adjusted", result.series)
        store.write(name, "roll_calendar", rolls_from_multiple(multiple))
        note = (
            f", {len(result.unresolved)} roll(s) with undeterminable gap"
            if result.unresolved
            else ""
        )
        typer.echo(f"{name}: {summary.rows[name]} rows, {len(result.rolls)} rolls{note}")
        for roll in result.unresolved:
            when = f"{roll.roll_ts:%Y-%m-%d}"
            typer.echo(f"  unresolved roll {roll.old}->{roll.new} at {when}: blank before it")
        typer.echo(f"  {summary.merges[name].line('multiple prices')}")
    if summary.configs:
        typer.echo(f"config: {', '.join(summary.configs)}")


def _check_tables(reports: list[CheckReport]) -> list[TableData]:
    """One row per series, then one per issue (the series named in each)."""
    series = [
        (
            str(r.contract),
            r.bar_size,
            f"{r.bars:,}",
            f"{r.first:%Y-%m-%d %H:%M}" if r.first else "-",
            f"{r.last:%Y-%m-%d %H:%M}" if r.last else "empty",
            r.verdict,
        )
        for r in reports
    ]
    issues = [
        (str(r.contract), r.bar_size, i.severity, i.check, i.detail)
        for r in reports
        for i in r.issues
    ]
    return [
        grid(
            "Series",
            ("contract", "bar", "bars", "first (UTC)", "last (UTC)", "verdict"),
            series,
            numeric=(False, False, True, False, False, False),
        ),
        grid(
            "Issues",
            ("contract", "bar", "severity", "check", "detail"),
            issues,
            numeric=(False,) * 5,
        ),
    ]


@data_app.command("check")
def check(  # noqa: PLR0917 - typer maps parameters to options
    instrument: Annotated[str | None, typer.Option(help="Only this instrument.")] = None,
    now: Annotated[
        str | None, typer.Option(help="Check as of this UTC time (default: now).")
    ] = None,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
    specs: SpecsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check stored bars, each series on its own; exit 3 if any is unusable."""
    from bastion.domain.contracts import parse_contract_id
    from bastion.marketdata.bars import BarStore
    from bastion.marketdata.calendars import CalendarCoverageError, calendar_for
    from bastion.marketdata.checks import CheckReport, check_bars, record_reports
    from bastion.marketdata.expiry import last_trade_date

    root = _data_dir(data_dir, profile)
    registry, when = _registry(specs), _parse_now(now)
    store = BarStore(root)
    stored = store.contracts(instrument)
    if not stored:
        raise DataError(
            f"no bars in {root}{f' for {instrument}' if instrument else ''}; import some first"
        )
    reports = []
    lines: list[str] = []

    def say(text: str) -> None:
        if json_out:
            lines.extend(text.splitlines())
        else:
            typer.echo(text)

    say(f"data check as of {when:%Y-%m-%d %H:%M} UTC, {root}")
    for cid, bar_size in stored:
        try:  # each series is judged on its own: one's problem never fails the others
            name, expiry = parse_contract_id(cid)
            spec = registry[name]
            calendar = calendar_for(spec)
            try:
                last = (
                    last_trade_date(spec.contract.expiry_rule, expiry, calendar.is_trading_day)
                    if spec.contract.expiry_rule
                    else None
                )
            except CalendarCoverageError:
                last = None  # an expiry the calendar cannot place: judged up to now
            report = check_bars(
                cid, bar_size, store.read(cid, bar_size), calendar, when, last_trade=last
            )
        except DataError as exc:
            report = CheckReport(cid, bar_size, 0, None, None)
            report.add("unreadable", "error", str(exc))
        reports.append(report)
    say((text_of if json_out else stdout_text)(_check_tables(reports)).rstrip("\n"))
    record_reports(root, reports, when)
    bad = sum(r.failed for r in reports)
    unchecked = sum(r.unchecked for r in reports)
    note = f", {unchecked} unchecked (before their calendar's range)" if unchecked else ""
    say(f"{len(reports)} series checked, {bad} unusable for executable orders{note}")
    code = ExitCode.VERDICT_NO if bad else ExitCode.SUCCESS
    if json_out:
        emit_json(
            {
                "kind": "data-check",
                "data_dir": str(root),
                "as_of": when.isoformat(),
                "series": [
                    {
                        "contract": str(r.contract),
                        "bar_size": r.bar_size,
                        "bars": r.bars,
                        "first": r.first.isoformat() if r.first else None,
                        "last": r.last.isoformat() if r.last else None,
                        "verdict": r.verdict,
                        "issues": [
                            {"severity": i.severity, "check": i.check, "detail": i.detail}
                            for i in r.issues
                        ],
                    }
                    for r in reports
                ],
                "unusable": bad,
                "exit_code": int(code),
                "lines": lines,
            }
        )
    if code:
        raise typer.Exit(int(code))


@data_app.command("update")
def update(profile: ProfileOpt = None, json_out: JsonOpt = False) -> None:
    """Import the bar files waiting in the profile's drop folder (data.drop_dir).

    A vendor download or a recorder writes minute bars there; nothing is fetched from
    the network. Imported files move to imported/ inside the drop folder; the daily bars
    of every contract that changed are rebuilt.
    """
    from bastion.gates.profiles import resolve_profile
    from bastion.marketdata.fx import rates_path
    from bastion.marketdata.update import update_from_drop

    loaded = resolve_profile(profile).profile
    if loaded.data.drop_dir is None:
        raise UserError(
            f"profile {loaded.name} has no data.drop_dir: set it to the folder where new bar"
            " files arrive (see docs/operator-day.md)"
        )
    result = update_from_drop(
        loaded.data.drop_dir,
        Path(loaded.data.dir),
        SpecRegistry.bundled(),
        now=dt.datetime.now(dt.UTC),
        rates=(rates_path(loaded), loaded.currency),
    )
    if json_out:
        emit_json({"kind": "data-update", **result.as_json(), "exit_code": 0})
        return
    for line in result.lines():
        typer.echo(line)


@data_app.command("roll-calendar")
def roll_calendar(  # noqa: PLR0917 - typer maps parameters to options
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. SP500 or rb.")],
    source: Annotated[
        str, typer.Option(help="stored, data (multiple prices) or config (imported roll config).")
    ] = "stored",
    start: Annotated[str | None, typer.Option(help="First date (config source).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (config source).")] = None,
    roll_early: Annotated[
        int,
        typer.Option(
            "--roll-early",
            help="Roll N business days earlier (0 to 60).",
            callback=bounded("--roll-early", 0, MAX_ROLL_EARLY_DAYS, unit="business days"),
        ),
    ] = 0,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Print the roll calendar of an instrument."""
    from bastion.marketdata.rolls import RollConfig, roll_calendar_from_config, rolls_from_multiple
    from bastion.marketdata.series import SeriesStore

    store = SeriesStore(_data_dir(data_dir, profile))
    if source == "stored":
        calendar = store.read(instrument, "roll_calendar")
    elif source == "data":
        calendar = rolls_from_multiple(store.read(instrument, "multiple"))
    elif source == "config":
        row = store.read_config("rollconfig").get(instrument)
        if row is None:
            raise DataError(
                f"no roll config for {instrument}; import a pysystemtrade folder with csvconfig/"
            )
        try:
            first = dt.date.fromisoformat(start) if start else dt.datetime.now(dt.UTC).date()
            last = dt.date.fromisoformat(end) if end else first + dt.timedelta(days=366)
        except ValueError:
            raise UserError("--start/--end must be dates YYYY-MM-DD") from None
        calendar = roll_calendar_from_config(
            RollConfig.from_pysystemtrade(row, roll_early), first, last
        )
    else:
        raise UserError(f"--source {source!r}, expected stored, data or config")
    rolls = [
        (f"{ts:%Y-%m-%d}", str(current), str(nxt))
        for ts, current, nxt in calendar.select("ts", "current", "next").iter_rows()
    ]
    title = f"{instrument} roll calendar ({source}): {calendar.height} roll(s)"
    table = grid(title, ("roll date", "from", "to"), rolls, numeric=(False,) * 3)
    typer.echo(stdout_text([table]).rstrip("\n"))


@data_app.command("adjusted")
def adjusted(
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. SP500.")],
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write DATETIME,ADJ to this CSV file.")
    ] = None,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="A DATETIME,ADJ CSV to compare roll gaps with.")
    ] = None,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Build the Panama back-adjusted series from stored multiple prices."""
    from bastion.marketdata._atomic import atomic_write
    from bastion.marketdata.adjust import compare_adjusted, panama
    from bastion.marketdata.importers.pysystemtrade import read_adjusted_prices
    from bastion.marketdata.series import SeriesStore

    store = SeriesStore(_data_dir(data_dir, profile))
    result = panama(store.read(instrument, "multiple"))
    store.write(instrument, "adjusted", result.series)
    typer.echo(f"{instrument}: {result.series.height} rows, {len(result.rolls)} rolls")
    for roll in result.unresolved:
        when = f"{roll.roll_ts:%Y-%m-%d}"
        typer.echo(f"  unresolved roll {roll.old}->{roll.new} at {when}: gap undeterminable")
        typer.echo("    (the series is blank before it: history is not adjusted by a guess)")
    if csv is not None:
        out = result.series.select(
            pl.col("ts")
            .dt.replace_time_zone(None)
            .dt.strftime("%Y-%m-%d %H:%M:%S")
            .alias("DATETIME"),
            pl.col("adj").alias("ADJ"),
        )
        atomic_write(csv, lambda tmp: out.write_csv(tmp, float_precision=None))
        typer.echo(f"wrote {csv}")
    if compare is not None:
        differences, stats = compare_adjusted(result, read_adjusted_prices(compare))
        moving = stats.filter(pl.col("spread") > 1e-6)
        typer.echo(f"compared with {compare}: {len(differences)} roll(s) with a different gap")
        for d in differences:
            gaps = f"ours {d.ours:.10g}, theirs {d.theirs:.10g}, diff {d.ours - d.theirs:+.10g}"
            typer.echo(f"  {d.roll_ts:%Y-%m-%d} {d.old}->{d.new}: {gaps}")
        if moving.height:
            typer.echo(
                f"  {moving.height} held contract(s) where the series move differently inside"
            )


@data_app.command("show")
def show(
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. SP500 or rb.")],
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
    specs: SpecsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print an instrument's spec and what is stored for it."""
    from bastion.marketdata.bars import BarStore
    from bastion.marketdata.series import SERIES_KINDS, SeriesStore
    from bastion.marketdata.specs import venue_symbol

    root = _data_dir(data_dir, profile)
    spec = _registry(specs)[instrument]
    c = spec.contract
    sessions = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in c.sessions)
    lines = [f"{instrument}: {spec.name} ({c.exchange}, {c.currency})"]
    money = f"margin {c.margin_rate}, band {c.price_band}"
    lines.append(f"  tick {c.tick_size}, multiplier {c.multiplier}, {money}")
    lines.append(
        f"  sessions {sessions} {c.timezone}; calendar {spec.calendar}; months {spec.months}"
    )
    lines.append(f"  last trade: {c.last_trade_rule or '-'} [{c.expiry_rule or '-'}]")
    notice = f", first notice [{c.first_notice_rule}]" if c.first_notice_rule else ""
    lines.append(f"  delivery: {c.delivery or 'not stated'}{notice}")
    lines.append(f"  symbol e.g. {venue_symbol(spec, '202512')} for {instrument}/202512")
    bars = BarStore(root)
    stored = []
    for cid, bar_size in bars.contracts(instrument):
        frame = bars.read(cid, bar_size)
        first, last = frame["ts"].min(), frame["ts"].max()
        span = f"from {first!s} to {last!s}"
        lines.append(f"  bars {cid} {bar_size}: {frame.height} {span}{_days_of(cid, spec)}")
        stored.append(
            {"contract": str(cid), "bar_size": bar_size, "rows": frame.height,
             "from": str(first), "to": str(last)}
        )  # fmt: skip
    series = SeriesStore(root)
    present = [k for k in SERIES_KINDS if series.has(instrument, k)]
    lines.append(f"  series: {', '.join(present) if present else 'none'}")
    if json_out:
        emit_json(
            {
                "kind": "data-show",
                "instrument": instrument,
                "exchange": c.exchange,
                "currency": c.currency,
                "tick_size": str(c.tick_size),
                "multiplier": str(c.multiplier),
                "bars": stored,
                "series": present,
                "lines": lines,
                "exit_code": 0,
            }
        )
        return
    for line in lines:
        typer.echo(line)


def _days_of(cid: str, spec: MarketSpec) -> str:
    """A contract's last trade day and (physical delivery) first notice day, or ""."""
    from bastion.domain.ids import ContractId
    from bastion.marketdata.calendars import calendar_for
    from bastion.marketdata.expiry import contract_dates

    try:
        dates = contract_dates(spec.contract, ContractId(cid), calendar_for(spec).is_trading_day)
    except DataError as exc:
        return f"; last trade day unknown ({exc})"
    if dates is None:
        return ""
    notice = f", first notice {dates.first_notice}" if dates.first_notice else ""
    return f"; last trade {dates.last_trade}{notice}"


@data_app.command("sample")
def sample(data_dir: DataDirOpt = None, profile: ProfileOpt = None) -> None:
    """Write the bundled, seeded sample data (CME SP500 and SHFE rb, across a roll)."""
    from bastion.marketdata.sample import write_sample

    for line in write_sample(_data_dir(data_dir, profile)):
        typer.echo(line)
