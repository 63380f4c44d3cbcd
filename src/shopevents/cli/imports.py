"""`shopevents import`: a store's catalog or contacts from a CSV or JSON Lines file, checked
whole first (a progress bar over the file), then written a chunk per transaction (a bar over
the rows); a file with an error writes nothing (see `domain.import_plan`)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.domain import import_checks, import_errors, import_files, import_plan, import_writes
from shopevents.ids import new_id
from shopevents.jsoncodec import dumps


def _error_line(e: dict[str, Any]) -> str:
    where = f"row {e['row']} (line {e['line']})" if e["row"] else f"line {e['line']}"
    field = f" {e['field']}:" if e["field"] else ""
    got = f"; got {e['got']}" if e.get("got") is not None else ""
    return f"{where}:{field} {e['code']}: expected {e['expected']}{got}"


@click.command("import")
@click.argument("kind", type=click.Choice(import_files.KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@store_option()
@click.option(
    "--format", "fmt", type=click.Choice(import_files.FORMATS), help="Default: from the file name."
)
@click.option("--delimiter", default=",", show_default=True, help="CSV cell separator.")
@click.option("--dry-run", is_flag=True, help="Check the file only; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_env
def import_command(
    env: Env,
    kind: str,
    file: str,
    store_ref: str | None,
    fmt: str | None,
    delimiter: str,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Import products (by productId) or contacts (by e-mail) from a CSV or JSON Lines file.
    Existing ones are updated, missing ones created; the same file twice changes nothing. A
    file with any bad row is refused whole: each error is listed (row, field, expected, got)
    and nothing is written."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    env.require_migrated()
    fmt = fmt or import_files.guess_format(file)
    if fmt is None:
        raise click.UsageError(
            f"cannot tell the format of {file!r} from its name: give --format csv or --format jsonl"
        )
    store = resolve_store(env, store_ref)
    check = import_checks.check_context(env.clock.now(), store.currency, store.domains)
    size = os.path.getsize(file) if file != "-" else None
    console = Console(stderr=True)
    try:
        fh = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=quiet,
        ) as bar:
            reading = bar.add_task(f"checking {file}", total=size)
            try:
                checked = import_checks.read_and_check(
                    fh,
                    kind,
                    fmt,
                    check,
                    delimiter=delimiter,
                    on_bytes=lambda n: bar.update(reading, completed=n),
                )
            except import_errors.ImportError_ as exc:
                _fail(exc.report, as_json)
                return
            if checked.error_count:
                _fail(import_checks.failed_report(checked), as_json)
                return
            if dry_run:
                report = {**import_checks.failed_report(checked), "status": "checked", "errors": []}
                report["records"] = len(checked.records)
                _print(report, as_json)
                return
            writing = bar.add_task("writing", total=len(checked.records))
            done = [0]

            def transact(step: import_plan.Step) -> Any:
                fn, weight = step
                result = env.write(fn)
                if isinstance(fn, import_writes.ChunkWrite):
                    done[0] += weight
                    bar.update(writing, completed=done[0])
                return result

            try:
                import_id = new_id(env.now())
                report = import_plan.run(
                    transact, store.id, checked, os.path.basename(file), import_id
                )
            except Exception as exc:
                raise click.ClickException(
                    f"the import could not be written ({exc}); what it had written was undone"
                ) from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    _print(report, as_json)


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(dumps(report))
        return
    click.echo(
        f"{report['status']}: {report['rows']} rows, {report.get('created', 0)} created, "
        f"{report.get('updated', 0)} updated, {report.get('unchanged', 0)} unchanged"
    )


def _fail(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(dumps(report))
    else:
        for e in report["errors"]:
            click.echo(_error_line(e), err=True)
        more = report["errorCount"] - len(report["errors"])
        if more > 0:
            click.echo(f"... and {more} more", err=True)
    raise click.ClickException(f"{report['errorCount']} error(s) in the file; nothing was imported")
