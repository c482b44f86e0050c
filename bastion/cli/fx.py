"""``bastion data fx``: the dated rates file the data update writes, and what a profile
converts with (``bastion.marketdata.fx``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.data import DataDirOpt, ProfileOpt, data_dir_of
from bastion.cli.runs import JsonOpt, emit_json
from bastion.errors import UserError

__all__ = ["fx_app"]

fx_app = typer.Typer(
    help="Exchange rates to the account's currency: import dated rates, show them.",
    no_args_is_help=True,
)


@fx_app.command("import")
def import_fx(
    path: Annotated[Path, typer.Argument(help="A CSV with columns currency,rate,date[,source].")],
    base: Annotated[
        str | None, typer.Option("--base", help="The base currency (default: the profile's).")
    ] = None,
    data_dir: DataDirOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Merge dated rates into the rates file (the newer date of each currency wins)."""
    from bastion.config import load_profile
    from bastion.marketdata.fx import import_rates, rates_path

    if profile is not None:
        loaded = load_profile(profile)
        target = rates_path(loaded)
        base = base or loaded.currency
    else:
        target = data_dir_of(data_dir, None) / "fx" / "rates.yaml"
    if base is None or len(base) != 3 or not base.isupper():
        raise UserError(f"--base {base!r}: give the base currency, e.g. --base USD")
    for line in import_rates(path, target, base):
        typer.echo(line)
    typer.echo(f"rates file: {target}")


@fx_app.command("show")
def show(profile: ProfileOpt = None, json_out: JsonOpt = False) -> None:
    """The rates a profile converts with today, and which are missing or stale."""
    from bastion.config import load_profile
    from bastion.marketdata.fx import profile_fx
    from bastion.marketdata.specs import SpecRegistry

    if profile is None:
        raise UserError("--profile is needed: rates are a profile's (its currency and fx)")
    loaded = load_profile(profile)
    table = profile_fx(loaded)
    today = dt.datetime.now(dt.UTC).date()
    registry = SpecRegistry.bundled()
    lines = [f"base currency {table.base}; rates from {table.where}"]
    rates: dict[str, dict[str, str | None]] = {}
    currencies = sorted({registry[i].contract.currency for i in loaded.instruments})
    for currency in currencies:
        if currency == table.base:
            continue
        problem = table.problem(currency, today)
        rate = table.rates.get(currency)
        dated = "" if rate is None or rate.as_of is None else f" dated {rate.as_of}"
        if problem is None and rate is not None:
            lines.append(f"  {currency}: {rate.rate} {table.base} per {currency}{dated}")
            as_of = None if rate.as_of is None else str(rate.as_of)
            rates[currency] = {"rate": str(rate.rate), "as_of": as_of, "problem": None}
        else:
            lines.append(f"  {currency}: NO RATE: {problem}")
            rates[currency] = {"rate": None, "as_of": None, "problem": problem}
    if json_out:
        emit_json(
            {"kind": "fx-show", "base": table.base, "rates": rates, "lines": lines, "exit_code": 0}
        )
        return
    for line in lines:
        typer.echo(line)
