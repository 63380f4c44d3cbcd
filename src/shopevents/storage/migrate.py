"""Numbered SQL migrations per backend (`migrations/<dialect>/NNNN_name.sql`), each applied
once, in its own transaction."""

from __future__ import annotations

import re
from importlib import resources

from shopevents.storage.connection import Conn, Dialect
from shopevents.storage.statements import Statement

_CREATE_LEDGER = Statement(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
_APPLIED = Statement("SELECT version FROM schema_migrations")
_RECORD = Statement(
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, CURRENT_TIMESTAMP)"
)
# PostgreSQL: one migrating process at a time.
_LOCK = Statement("SELECT pg_advisory_lock(7212001)")


def migrations(dialect: Dialect) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration of `dialect`, in order."""
    folder = resources.files("shopevents.storage") / "migrations" / dialect
    out = []
    for entry in folder.iterdir():
        mt = re.match(r"^(\d+)_.*\.sql$", entry.name)
        if mt:
            out.append((int(mt.group(1)), entry.name, entry.read_text()))
    return sorted(out)


def applied(conn: Conn) -> set[int]:
    """The versions applied to the connection's database."""
    conn.execute(_CREATE_LEDGER)
    return {int(r[0]) for r in conn.all(_APPLIED)}


def migrate(conn: Conn, up_to: int | None = None) -> list[str]:
    """Apply every migration not yet applied (numbered up to `up_to`, if given), each in its
    own transaction; give their names."""
    done: list[str] = []
    if conn.dialect == "postgres":
        conn.execute(_LOCK)
    already = applied(conn)
    for version, name, sql in migrations(conn.dialect):
        if version in already or (up_to is not None and version > up_to):
            continue
        with conn.transaction():
            for text in _statements(sql):
                conn.execute(Statement(text, text))
            conn.execute(_RECORD, (version, name))
        done.append(name)
    return done


def _statements(sql: str) -> list[str]:
    text = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]
