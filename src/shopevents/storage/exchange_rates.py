"""Exchange rates in storage: one rate per currency and day (units per euro, kept as
decimal text), a day loaded again replacing the old rate."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from shopevents.storage.database import Conn


class StoredRate(NamedTuple):
    day: int  # a date's ordinal
    currency: str
    rate: Decimal


def save(conn: Conn, rates: Iterable[StoredRate], now: int) -> None:
    conn.executemany(
        "INSERT INTO exchange_rates (day, currency, rate, loaded_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (currency, day) DO UPDATE SET rate = excluded.rate, loaded_at = excluded.loaded_at",
        [(r.day, r.currency, str(r.rate), now) for r in rates],
    )


def between(conn: Conn, first_day: int, last_day: int) -> list[StoredRate]:
    """Every rate of days first_day..last_day, by day and currency."""
    return [
        StoredRate(int(d), c, Decimal(r))
        for d, c, r in conn.all(
            "SELECT day, currency, rate FROM exchange_rates WHERE day >= ? AND day <= ? "
            "ORDER BY day, currency",
            (first_day, last_day),
        )
    ]


def of_currencies(
    conn: Conn, currencies: list[str], first_day: int, last_day: int
) -> list[StoredRate]:
    """The rates of `currencies` on days first_day..last_day, by currency and day."""
    marks = ", ".join("?" for _ in currencies)
    return [
        StoredRate(int(d), c, Decimal(r))
        for d, c, r in conn.all(
            f"SELECT day, currency, rate FROM exchange_rates WHERE currency IN ({marks}) "
            "AND day >= ? AND day <= ? ORDER BY currency, day",
            (*currencies, first_day, last_day),
        )
    ]
