"""What every command of the command line shares: the environment (settings, clock, the
database, checked once before its first use), the `--store` option, JSON output in the REST
API's shapes, and the translation of failures into one line saying what is wrong and how to
fix it (never a traceback)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click

from shopevents.clock import SystemClock, monotonic, to_micros
from shopevents.config import Settings
from shopevents.errors import StorageUnavailable
from shopevents.storage import stores
from shopevents.storage.codec import dumps
from shopevents.storage.database import Database, open_database, parse_url

DATABASE_HINT = "check --database / SHOPEVENTS_DATABASE_URL"
MIGRATE = "shopevents migrate"


def shown_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def _lasting(reason: str) -> bool:
    """A connection failure that waiting will not cure (wrong name, user or password)."""
    return (
        "does not exist" in reason
        or "authentication failed" in reason
        or ("password" in reason and "supplied" in reason)
    )


class Env:
    """What a command works with. `db` checks the database once, before its first use: the
    URL names a backend, a SQLite file exists (a read never creates one), the database
    answers and is migrated; otherwise the command stops with what to do."""

    def __init__(self, settings: Settings, *, url_source: str = "the default") -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.url_source = url_source
        self._db: Database | None = None
        self._checked = False

    # --- the database ----------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The database, as the messages name it: a SQLite file by its absolute path."""
        url = self.settings.database_url
        try:
            dialect, target = parse_url(url)
        except ValueError:
            return shown_url(url)
        if dialect == "sqlite" and target != ":memory:":
            return f"{Path(target).resolve()} ({url}, {self.url_source})"
        return f"{shown_url(url)} ({self.url_source})"

    def check_url(self) -> None:
        url = self.settings.database_url
        try:
            parse_url(url)
        except ValueError:
            raise click.ClickException(
                f"{shown_url(url)!r} ({self.url_source}) is not a database URL shopevents "
                "can use: give sqlite:///PATH/TO/FILE.db or "
                f"postgresql://USER:PASSWORD@HOST:5432/DBNAME ({DATABASE_HINT})"
            ) from None

    def database(self) -> Database:
        """The database, unchecked (for `migrate`, which creates and migrates it)."""
        if self._db is None:
            self.check_url()
            self._db = open_database(self.settings)
        return self._db

    @property
    def db(self) -> Database:
        db = self.database()
        if not self._checked:
            self.require_migrated()
        return db

    def unavailable(self, exc: BaseException) -> click.ClickException:
        """The one message for a database that cannot be reached."""
        reason = first_line(exc)
        if "does not exist" in reason and "database" in reason:
            name = urlsplit(self.settings.database_url).path.lstrip("/") or "?"
            return click.ClickException(
                f"the PostgreSQL database {name!r} does not exist ({reason}): create it "
                f"(`createdb {name}`), then run `{MIGRATE}`; or {DATABASE_HINT}"
            )
        if "authentication failed" in reason or "password" in reason:
            return click.ClickException(
                f"the database at {self.where} refused the login ({reason}): "
                f"check the user and password in the URL ({DATABASE_HINT})"
            )
        if self.database().dialect == "sqlite" and "locked" in reason:
            return click.ClickException(
                f"the SQLite database {self.where} is busy: another process holds its write "
                f"lock ({reason}); try again, or raise storage.busy_timeout_ms"
            )
        if self.database().dialect == "sqlite" and "not a database" in reason:
            return click.ClickException(
                f"{self.where} is not a SQLite database ({reason}): name the database file "
                f"({DATABASE_HINT})"
            )
        if self.database().dialect == "sqlite":
            return click.ClickException(
                f"cannot open the SQLite database {self.where} ({reason}): "
                f"check the path and its permissions ({DATABASE_HINT})"
            )
        return click.ClickException(
            f"the database at {self.where} is not answering ({reason}): "
            f"start it, or {DATABASE_HINT}"
        )

    def _require_file(self) -> None:
        db = self.database()
        if db.dialect == "sqlite" and db.target != ":memory:" and not Path(db.target).exists():
            raise click.ClickException(
                f"no database at {self.where}: run `{MIGRATE}` to create it there, "
                f"or {DATABASE_HINT} to name the right file"
            )

    def _pending(self, wait: bool) -> list[str]:
        limit = self.settings.storage.startup_wait_seconds if wait else 0.0
        give_up = monotonic() + limit
        told = False
        while True:
            try:
                return self.database().pending_migrations()
            except StorageUnavailable as exc:
                reason = first_line(exc)
                if monotonic() >= give_up or _lasting(reason):
                    raise self.unavailable(exc) from None
                if not told:
                    click.echo(
                        f"waiting up to {limit:g} s for the database at {self.where} ({reason})",
                        err=True,
                    )
                    told = True
                time.sleep(1.0)

    def require_migrated(self, *, wait: bool = False) -> None:
        """Refuse to go on with migrations pending. `wait`: a database that does not answer
        yet is waited for, up to `storage.startup_wait_seconds` (a server started with, or
        before, its database)."""
        if self._checked:
            return
        self._require_file()
        pending = self._pending(wait)
        if pending:
            what = (
                "has no tables yet"
                if len(pending) == len(self.database().migrations())
                else f"needs migrating ({', '.join(pending)})"
            )
            raise click.ClickException(f"the database {self.where} {what}: run `{MIGRATE}`")
        self._checked = True

    # --- reading and writing -----------------------------------------------------------------

    def now(self) -> int:
        return to_micros(self.clock.now())

    def write(self, fn: Any) -> Any:
        conn = self.db.connect()
        try:
            with conn.transaction():
                return fn(conn, self.now())
        finally:
            conn.close()

    def read(self, fn: Any) -> Any:
        conn = self.db.connect()
        try:
            return fn(conn)
        finally:
            conn.close()


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
        except sqlite3.OperationalError as exc:
            _missing_table(ctx, exc)
            raise click.ClickException(f"database error: {first_line(exc)}") from None
        except OSError as exc:
            fail_os(exc)
        except Exception as exc:
            if _undefined_table(exc):
                _missing_table(ctx, exc)
            if os.environ.get("SHOPEVENTS_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {first_line(exc)} (this is a bug; run "
                "again with SHOPEVENTS_DEBUG=1 to see where, and report it)"
            ) from None


def _undefined_table(exc: BaseException) -> bool:
    return type(exc).__name__ == "UndefinedTable"


def _missing_table(ctx: click.Context, exc: BaseException) -> None:
    text = str(exc)
    if "no such table" in text or _undefined_table(exc):
        env = ctx.find_object(Env)
        where = env.where if env is not None else "the database"
        raise click.ClickException(
            f"the database {where} is missing a table ({first_line(exc)}): run `{MIGRATE}`"
        ) from None
