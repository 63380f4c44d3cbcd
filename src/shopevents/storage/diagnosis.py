"""What can be said of a database before and when it fails, whatever its backend: where it
is (a SQLite file's path), whether it exists yet, what kind of failure an error is, and
whether it can hold cluster mode's state. The command line turns these into one line saying
what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from shopevents.storage.database import Database, parse_url

# Why the database could not be reached.
Unreachable = Literal["no_database", "login", "busy", "not_a_database", "cannot_open", "no_answer"]
# What a database error that escaped a command is.
Fault = Literal["missing_table", "database_error"]


def file_path(url: str) -> Path | None:
    """The file of a SQLite database URL, absolute; None for PostgreSQL and for a database in
    memory. ValueError: not a database URL."""
    dialect, target = parse_url(url)
    if dialect == "sqlite" and target != ":memory:":
        return Path(target).resolve()
    return None


def missing_file(db: Database) -> bool:
    """A SQLite database whose file does not exist (a read must not create it)."""
    return db.dialect == "sqlite" and db.target != ":memory:" and not Path(db.target).exists()


def unreachable(db: Database, reason: str) -> Unreachable:
    """Why the database did not answer, from the first line of what its driver said."""
    if "does not exist" in reason and "database" in reason:
        return "no_database"
    if "authentication failed" in reason or "password" in reason:
        return "login"
    if db.dialect != "sqlite":
        return "no_answer"
    if "locked" in reason:
        return "busy"
    if "not a database" in reason:
        return "not_a_database"
    return "cannot_open"


def fault(exc: BaseException) -> Fault | None:
    """A database error (None: not one): a table missing (migrations not applied), or
    another error the database reported."""
    if type(exc).__name__ == "UndefinedTable":
        return "missing_table"
    if isinstance(exc, sqlite3.OperationalError):
        return "missing_table" if "no such table" in str(exc) else "database_error"
    return None


def holds_cluster_state(db: Database) -> bool:
    """Cluster mode keeps its state in PostgreSQL, shared by every collector and processor."""
    return db.dialect == "postgres"
