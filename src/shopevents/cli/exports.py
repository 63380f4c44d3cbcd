"""`shopevents export`: a store's events, purchases or contacts as JSON lines or CSV."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import Any

import click

from shopevents.cli.common import open_output, resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.cli.reports import report_range
from shopevents.jsoncodec import dumps
from shopevents.storage import exports
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

# Rows per page: a page is read at a time, in id order (keyset pages: constant memory).
BATCH = exports.PAGE


def _rows(conn: Conn, what: str, store_id: str, bounds: tuple[int, int] | None) -> Iterator[Any]:
    after = exports.first_cursor(what)
    while True:
        rows = exports.page(conn, what, store_id, after, bounds, limit=BATCH)
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1][0]


def _time_bounds(
    env: Env, store: StoreRecord, from_: str | None, to_: str | None
) -> tuple[int, int] | None:
    if not from_ and not to_:
        return None
    rng = report_range(env, store, from_ or "1970-01-01", to_, "day")
    return rng.start_us, rng.end_us


def _export(
    env: Env,
    what: str,
    store: StoreRecord,
    fmt: str,
    bounds: tuple[int, int] | None,
    out: Any,
    quiet: bool,
) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    def write(conn: Conn) -> int:
        written = 0
        total = exports.count(conn, what, store.id, bounds)
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(exports.HEADS[what])
        with Progress(
            TextColumn(f"exporting {what}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task(what, total=total)
            for row in _rows(conn, what, store.id, bounds):
                rec = exports.record(what, row)
                if writer is not None:
                    writer.writerow(exports.flat(rec))
                else:
                    out.write(dumps(rec) + "\n")
                written += 1
                if written % 500 == 0:
                    bar.update(task, completed=written)
            bar.update(task, completed=written)
        return written

    return env.read(write)


@click.command("export")
@click.argument("what", type=click.Choice(["events", "purchases", "contacts"]))
@store_option()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to a file (default stdout).",
)
@click.option(
    "--from",
    "from_",
    help="First local day (events: received; purchases: purchase date; contacts: created).",
)
@click.option("--to", "to_", help="Last local day.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_env
def export_command(
    env: Env,
    what: str,
    store_ref: str | None,
    fmt: str,
    output: str | None,
    from_: str | None,
    to_: str | None,
    quiet: bool,
) -> None:
    """Export a store's events, purchases or contacts as JSON lines or CSV, streamed in id
    order a page at a time (constant memory whatever the size), with a progress bar."""
    env.require_migrated()
    store = resolve_store(env, store_ref)
    bounds = _time_bounds(env, store, from_, to_)
    if output:
        with open_output(output) as fh:
            n = _export(env, what, store, fmt, bounds, fh, quiet)
        if not quiet:
            click.echo(f"wrote {n} {what} to {output}", err=True)
    else:
        _export(env, what, store, fmt, bounds, sys.stdout, quiet)
