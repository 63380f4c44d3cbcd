"""What the commands share: the one `--store` option, JSON output in the REST API's shapes,
output files, and the translation of failures into one line saying what is wrong and how to
fix it (never a traceback)."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import click

from shopevents.cli.env import MIGRATE, Env, first_line
from shopevents.errors import StorageUnavailable
from shopevents.jsoncodec import dumps
from shopevents.storage import diagnosis, stores

# --- --store: an id or an exact name, everywhere ----------------------------------------------

STORE_HELP = "The store: its id or its exact name (see `shopevents stores list`)."


def store_option(*, required: bool = False, note: str | None = None) -> Any:
    """The one `--store` option. Not required: left out, it is the only store there is."""
    extra = note if note is not None else " May be left out when there is only one store."
    return click.option(
        "--store",
        "store_ref",
        required=required,
        metavar="STORE",
        help=STORE_HELP + ("" if required else extra),
    )


def resolve_store(env: Env, ref: str | None) -> stores.StoreRecord:
    """The store named by an id or an exact name; None: the only store there is."""
    every = env.read(stores.list_stores)
    if ref is None:
        if len(every) == 1:
            return every[0]
        names = ", ".join(f"{s.id} ({s.name})" for s in every)
        if not names:
            raise click.ClickException(
                "there is no store yet: create one with `shopevents stores create NAME`"
            )
        raise click.UsageError(f"say which store with --store ID or NAME; the stores: {names}")
    for rec in every:
        if rec.id == ref:
            return rec
    named = [rec for rec in every if rec.name == ref]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(s.id for s in named)
        raise click.ClickException(f"{len(named)} stores are named {ref!r}: give its id ({ids})")
    raise click.ClickException(
        f"no store has the id or name {ref!r}: see `shopevents stores list` for the stores"
    )


# --- output ----------------------------------------------------------------------------------


def out_json(value: Any) -> None:
    """One JSON document on standard output, encoded as the REST API encodes (amounts as
    JSON numbers)."""
    click.echo(dumps(value))


def plain_text(value: Any) -> str:
    """A value in a human-readable table: JSON's spelling (true, null, numbers, objects)."""
    if isinstance(value, str):
        return value
    return dumps(value)


def open_output(path: str) -> Any:
    """A file to write a command's output to, or a clear error."""
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        fail_os(exc, path)


def fail_os(exc: OSError, path: str | None = None) -> NoReturn:
    where = path or exc.filename or "?"
    reason = exc.strerror or str(exc)
    hint = ""
    if isinstance(exc, FileNotFoundError):
        hint = ": check the path (its folder must exist)"
    elif isinstance(exc, PermissionError):
        hint = ": check the permissions, or choose another path"
    elif isinstance(exc, IsADirectoryError):
        hint = ": give a file name, not a folder"
    raise click.ClickException(f"cannot use {where} ({reason}){hint}") from None


# --- failures as one line -----------------------------------------------------------------------


class Group(click.Group):
    """The main group: a failure that escapes a command becomes one line saying what is
    wrong and what to do, with a non-zero exit; SHOPEVENTS_DEBUG=1 shows the traceback of
    an unexpected one."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except StorageUnavailable as exc:
            env = ctx.find_object(Env)
            if env is None:
                msg = f"the database is not answering ({first_line(exc)})"
                raise click.ClickException(msg) from None
            raise env.unavailable(exc) from None
        except OSError as exc:
            fail_os(exc)
        except Exception as exc:
            fault = diagnosis.fault(exc)
            if fault == "missing_table":
                env = ctx.find_object(Env)
                where = env.where if env is not None else "the database"
                raise click.ClickException(
                    f"the database {where} is missing a table ({first_line(exc)}): run `{MIGRATE}`"
                ) from None
            if fault == "database_error":
                raise click.ClickException(f"database error: {first_line(exc)}") from None
            if os.environ.get("SHOPEVENTS_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {first_line(exc)} (this is a bug; run "
                "again with SHOPEVENTS_DEBUG=1 to see where, and report it)"
            ) from None
