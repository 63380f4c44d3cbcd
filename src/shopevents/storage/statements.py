"""SQL statements with their text for each backend, fixed when they are declared.

A `Statement` holds the SQLite text and the PostgreSQL text of one statement. Most statements
differ between the two only in their placeholders, so a statement declared with one text is
written with `?` (SQLite's placeholder) and its PostgreSQL text, with `%s`, is made once when it
is declared; a statement whose SQL differs by backend gives both texts. An `Insert` is declared
by its table and columns, so the forms the connections need (with an explicit `id` column,
many rows in one statement, COPY) are built from them, never parsed out of SQL text.

Statements are declared once, at module level, and a connection runs the text of its own
backend. A statement given to a connection as plain text is declared on first use and kept;
an INSERT whose rows a connection queues is always declared as an `Insert`.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import cached_property

# Every character but letters, digits and `_` becomes a space: what is left, split, is a
# statement's words.
_SPACES = str.maketrans(
    {c: " " for c in map(chr, range(128)) if c not in string.ascii_letters + string.digits + "_"}
)


def pg_text(text: str) -> str:
    """The PostgreSQL text of a statement written with `?` placeholders (psycopg's `%s`)."""
    return text.replace("%", "%%").replace("?", "%s")


class Statement:
    """One statement: `sqlite` and `postgres` texts, and `names`, every word they hold (a
    superset of the tables they name, for the connection's queued rows). A statement run on
    one backend only has an empty text for the other."""

    __slots__ = ("names", "postgres", "sqlite")

    def __init__(self, sqlite: str, postgres: str | None = None) -> None:
        self.sqlite = sqlite
        self.postgres = pg_text(sqlite) if postgres is None else postgres
        words = (sqlite if postgres is None else f"{sqlite} {postgres}").translate(_SPACES)
        self.names = frozenset(w.lower() for w in words.split())

    def __repr__(self) -> str:
        return f"Statement({self.sqlite!r})"

    def __add__(self, tail: str) -> Statement:
        """The statement followed by `tail` (a clause written the same for both backends)."""
        return Statement(self.sqlite + tail, self.postgres + pg_text(tail))


class Insert(Statement):
    """`INSERT INTO table (columns) VALUES (values)`: `columns` a sequence of names or one
    comma-separated text, each value a placeholder (`?`) unless given, and an optional `tail`
    (ON CONFLICT ..., RETURNING ...)."""

    def __init__(
        self,
        table: str,
        columns: Sequence[str] | str,
        values: Sequence[str] | None = None,
        tail: str = "",
    ) -> None:
        self.table = table
        names = columns.split(",") if isinstance(columns, str) else columns
        self.columns = tuple(c.strip() for c in names)
        self.values = tuple(values) if values is not None else ("?",) * len(self.columns)
        if len(self.values) != len(self.columns):
            raise ValueError(f"{table}: {len(self.columns)} columns, {len(self.values)} values")
        self.tail = tail
        text = f"INSERT INTO {table} ({', '.join(self.columns)}) VALUES ({', '.join(self.values)})"
        super().__init__(text + (f" {tail}" if tail else ""))

    @property
    def plain(self) -> bool:
        """Whether every value is a placeholder and nothing follows VALUES (so its rows can
        be written many to a statement, or with COPY)."""
        return not self.tail and all(v == "?" for v in self.values)

    @cached_property
    def with_id(self) -> Insert:
        """The same INSERT with an explicit `id` first."""
        return Insert(self.table, ("id", *self.columns), ("?", *self.values), self.tail)

    @cached_property
    def returning_id(self) -> Statement:
        """The same INSERT answering the new row's id."""
        return self + " RETURNING id"

    @cached_property
    def copy(self) -> str:
        """PostgreSQL: `COPY table (columns) FROM STDIN` (for a plain INSERT)."""
        return f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN"

    def rows(self, n: int) -> str:
        """PostgreSQL: the plain INSERT for `n` rows in one statement with server-side
        placeholders (`VALUES ($1, $2), ($3, $4)`, for a raw cursor: psycopg need not parse
        it)."""
        texts: dict[int, str] = self.__dict__.setdefault("_rows", {})
        out = texts.get(n)
        if out is None:
            w = len(self.columns)
            rows = ", ".join(
                "(" + ", ".join(f"${r * w + c + 1}" for c in range(w)) + ")" for r in range(n)
            )
            out = f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES {rows}"
            if len(texts) < 64:
                texts[n] = out
        return out


_DECLARED: dict[str, Statement] = {}


def statement(sql: Statement | str) -> Statement:
    """The statement itself, or the one declared for this text (declared on first use)."""
    if isinstance(sql, Statement):
        return sql
    out = _DECLARED.get(sql)
    if out is None:
        out = Statement(sql)
        if len(_DECLARED) < 4096:
            _DECLARED[sql] = out
    return out
