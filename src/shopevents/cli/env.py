"""What a command works with: the settings, then the runtime the server uses too (an
`AppContext`: settings, database, clock), made on the database's first use, after the checks
the command line makes (the URL names a backend, a SQLite file exists, the database answers
and is migrated), each failure told as one line saying what to do."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from shopevents.clock import SystemClock, monotonic, to_micros
from shopevents.config import Settings
from shopevents.context import AppContext
from shopevents.errors import StorageUnavailable
from shopevents.storage import diagnosis
from shopevents.storage.database import Conn, Database, open_database, parse_url

T = TypeVar("T")

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


# What to say of a database that cannot be reached, by why (storage/diagnosis.py).
_UNREACHABLE: dict[diagnosis.Unreachable, str] = {
    "no_database": "the PostgreSQL database {name!r} does not exist ({reason}): create it "
    "(`createdb {name}`), then run `{migrate}`; or {hint}",
    "login": "the database at {where} refused the login ({reason}): check the user and "
    "password in the URL ({hint})",
    "busy": "the SQLite database {where} is busy: another process holds its write lock "
    "({reason}); try again, or raise storage.busy_timeout_ms",
    "not_a_database": "{where} is not a SQLite database ({reason}): name the database file "
    "({hint})",
    "cannot_open": "cannot open the SQLite database {where} ({reason}): check the path and its "
    "permissions ({hint})",
    "no_answer": "the database at {where} is not answering ({reason}): start it, or {hint}",
}


class Env:
    """The settings (flags may still change them) until the database is first used; then
    `ctx`, the `AppContext` every read and write goes through. `db` checks the database once,
    before its first use; otherwise the command stops with what to do."""

    def __init__(self, settings: Settings, *, url_source: str = "the default") -> None:
        self._settings = settings
        self.clock = SystemClock()
        self.url_source = url_source
        self._ctx: AppContext | None = None
        self._checked = False

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value
        if self._ctx is not None:
            self._ctx.settings = value

    # --- the database ----------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The database, as the messages name it: a SQLite file by its absolute path."""
        url = self.settings.database_url
        try:
            path = diagnosis.file_path(url)
        except ValueError:
            return shown_url(url)
        if path is not None:
            return f"{path} ({url}, {self.url_source})"
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

    @property
    def ctx(self) -> AppContext:
        """The runtime, unchecked (`db`, `read` and `write` check the database first)."""
        if self._ctx is None:
            self.check_url()
            self._ctx = AppContext(self.settings, open_database(self.settings), self.clock)
        return self._ctx

    def database(self) -> Database:
        """The database, unchecked (for `migrate`, which creates and migrates it)."""
        return self.ctx.db

    @property
    def db(self) -> Database:
        db = self.database()
        if not self._checked:
            self.require_migrated()
        return db

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()

    def unavailable(self, exc: BaseException) -> click.ClickException:
        """The one message for a database that cannot be reached."""
        reason = first_line(exc)
        kind = diagnosis.unreachable(self.database(), reason)
        name = urlsplit(self.settings.database_url).path.lstrip("/") or "?"
        return click.ClickException(
            _UNREACHABLE[kind].format(
                where=self.where, reason=reason, name=name, hint=DATABASE_HINT, migrate=MIGRATE
            )
        )

    def _require_file(self) -> None:
        if diagnosis.missing_file(self.database()):
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

    def write(self, fn: Callable[[Conn, int], T]) -> T:
        """`fn(conn, now)` in a transaction of its own."""
        self.require_migrated()
        return self.ctx.write_now(fn)

    def read(self, fn: Callable[[Conn], T]) -> T:
        self.require_migrated()
        return self.ctx.read_sync(fn)


pass_env = click.make_pass_decorator(Env)
