"""What storage says of a database for the command line's messages, on plain values: where a
SQLite file is, whether it exists, why a database did not answer, what an error is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shopevents.config import Settings
from shopevents.storage import diagnosis
from shopevents.storage.database import open_database


def test_file_path_is_a_sqlite_file_only(tmp_path: Path) -> None:
    assert diagnosis.file_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert diagnosis.file_path("sqlite://") is None  # in memory
    assert diagnosis.file_path("postgresql://u@h:5432/d") is None
    with pytest.raises(ValueError):
        diagnosis.file_path("mysql://u@h/d")


def test_missing_file(tmp_path: Path) -> None:
    db = open_database(Settings(database_url=f"sqlite:///{tmp_path}/a.db"))
    assert diagnosis.missing_file(db)
    (tmp_path / "a.db").touch()
    assert not diagnosis.missing_file(db)
    assert not diagnosis.missing_file(open_database(Settings(database_url="postgresql://u@h/d")))


@pytest.mark.parametrize(
    ("url", "reason", "kind"),
    [
        ("postgresql://u@h/d", 'FATAL: database "d" does not exist', "no_database"),
        ("postgresql://u@h/d", 'password authentication failed for user "u"', "login"),
        ("postgresql://u@h/d", "connection refused", "no_answer"),
        ("sqlite:///x.db", "database is locked", "busy"),
        ("sqlite:///x.db", "file is not a database", "not_a_database"),
        ("sqlite:///x.db", "unable to open database file", "cannot_open"),
    ],
)
def test_why_a_database_did_not_answer(url: str, reason: str, kind: str) -> None:
    assert diagnosis.unreachable(open_database(Settings(database_url=url)), reason) == kind


def test_fault() -> None:
    assert diagnosis.fault(sqlite3.OperationalError("no such table: stores")) == "missing_table"
    assert diagnosis.fault(sqlite3.OperationalError("disk I/O error")) == "database_error"
    assert diagnosis.fault(ValueError("no such table")) is None


def test_cluster_state_is_postgresql() -> None:
    assert diagnosis.holds_cluster_state(open_database(Settings(database_url="postgresql://u@h/d")))
    assert not diagnosis.holds_cluster_state(open_database(Settings(database_url="sqlite://")))
