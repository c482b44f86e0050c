"""``bastion data calendar``: import next year's China futures calendar, and show
what the calendars cover (``bastion.marketdata.calendar_import``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.data import DataDirOpt, ProfileOpt, data_dir_of
from bastion.cli.runs import JsonOpt, emit_json

__all__ = ["calendar_app"]

calendar_app = typer.Typer(
    help="Exchange calendars: import a year of China holidays, show coverage.",
    no_args_is_help=True,
)


@calendar_app.command("import")
def import_calendar(
    path: Annotated[Path, typer.Argument(help="A year's holiday file (YAML; see the runbook).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Import a year that was imported before again.")
    ] = False,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Import a year of the China futures calendar (State Council holidays), validated."""
    from bastion.marketdata.calendar_import import import_year
    from bastion.marketdata.calendars import china_days, use_operator_calendars

    folder = data_dir_of(data_dir, profile)
    covered = china_days().covered_until
    year, target = import_year(path, folder, covered, now=dt.datetime.now(dt.UTC), replace=replace)
    use_operator_calendars(None)  # read the new year back at the next calendar built
    use_operator_calendars(folder)
    weekdays = len(year.closed)
    typer.echo(
        f"imported China futures calendar {year.year}: {weekdays} weekday holiday(s),"
        f" {len(year.makeup_workdays)} make-up weekend working day(s) (exchange holidays)"
    )
    typer.echo(f"source: {year.source}")
    typer.echo(f"stored: {target} (sha256 {year.sha256[:12]}...)")
    typer.echo(f"the calendar now covers to {year.year}-12-31")


@calendar_app.command("show")
def show(
    data_dir: DataDirOpt = None, profile: ProfileOpt = None, json_out: JsonOpt = False
) -> None:
    """What the China futures calendar covers, and where each imported year came from."""
    from bastion.marketdata.calendars import china_days

    data_dir_of(data_dir, profile)
    days = china_days()
    header = (
        f"China futures calendar: {days.covered_from} to {days.covered_until}"
        f" (bundled file version {days.version})"
    )
    lines = [header]
    lines.extend(
        f"  {year.year}: imported {year.imported_at} from {year.file}; source: {year.source}"
        for year in days.imported
    )
    nxt = days.covered_until.year + 1
    lines.append(
        f"next: when {nxt}'s holidays are published, 'bastion data calendar import FILE'"
        " (docs/marketdata.md)"
    )
    if json_out:
        emit_json(
            {
                "kind": "calendar-show",
                "covered_from": str(days.covered_from),
                "covered_until": str(days.covered_until),
                "imported": [
                    {"year": y.year, "file": str(y.file), "source": y.source} for y in days.imported
                ],
                "lines": lines,
                "exit_code": 0,
            }
        )
        return
    for line in lines:
        typer.echo(line)
