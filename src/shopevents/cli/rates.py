"""`shopevents rates`: load ECB reference rates, list the rates of a day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click

from shopevents.cli.env import Env, pass_env
from shopevents.reports import rates


@click.group("rates")
def rates_group() -> None:
    """Exchange rates (the server's, shared by its stores)."""


@rates_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_env
def rates_load(env: Env, file: Path) -> None:
    """Load an ECB reference-rate file (daily or historical, CSV or XML)."""
    try:
        parsed = rates.parse(file.read_bytes())
    except rates.RatesError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    n = env.write(lambda conn, now: rates.load(conn, parsed, now))
    days = sorted({d for d, _, _ in parsed})
    span = f" from {days[0]} to {days[-1]}" if days else ""
    click.echo(f"loaded {n} rates{span}")


@rates_group.command("list")
@click.option("--date", "day", help="The day (YYYY-MM-DD); default: the last 7 days.")
@pass_env
def rates_list(env: Env, day: str | None) -> None:
    """The rates loaded for a day (units per euro)."""
    try:
        last = date.fromisoformat(day) if day else env.clock.now().date()
    except ValueError:
        raise click.BadParameter(
            f"expected a day as YYYY-MM-DD; got {day!r}", param_hint="--date"
        ) from None
    first = last if day else last - timedelta(days=7)
    found = env.read(lambda c: rates.listing(c, first, last))
    if not found:
        click.echo(
            f"no rates loaded for {day or 'the last 7 days'}: load some with "
            "`shopevents rates load FILE`",
            err=True,
        )
    for r in found:
        click.echo(f"{r['date']}  {r['currency']}  {r['rate']}")
