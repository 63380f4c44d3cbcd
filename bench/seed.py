"""Bulk seeding straight into the schema (not over HTTP): executemany on SQLite, COPY on
PostgreSQL. Rows are generated lazily so 10 million events never sit in memory at once."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence

from bench.dbs import Database

CHUNK = 50_000


def insert_rows(db: Database, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert every row; give how many. One transaction per CHUNK rows."""
    cols = ", ".join(columns)
    n = 0
    it = iter(rows)
    if db.backend == "sqlite":
        conn = db.connect()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        try:
            while True:
                chunk = list(itertools.islice(it, CHUNK))
                if not chunk:
                    break
                with conn:
                    conn.executemany(sql, chunk)
                n += len(chunk)
        finally:
            conn.close()
        return n
    with db.connect() as conn:
        while True:
            chunk = list(itertools.islice(it, CHUNK))
            if not chunk:
                break
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp,
            ):
                for row in chunk:
                    cp.write_row(row)
            n += len(chunk)
        if "id" in columns and table != "contacts":
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    return n


def analyze(db: Database) -> None:
    conn = db.connect()
    try:
        conn.execute("ANALYZE")
    finally:
        conn.close()


def now_us() -> int:
    return time.time_ns() // 1000


# -- carts -------------------------------------------------------------------------------

CART_COLUMNS = (
    "id",
    "store_id",
    "contact_id",
    "cart_id",
    "state",
    "lines",
    "total_price",
    "total_quantity",
    "currency",
    "created_at",
    "updated_at",
    "abandon_at",
)
CONTACT_COLUMNS = ("id", "store_id", "email", "fields", "created_at", "updated_at")

_LINES = json.dumps(
    [
        {
            "productId": "SKU-1001",
            "name": "Coffee mug",
            "quantity": 2,
            "price": "19.9",
            "unitPrice": "9.95",
            "url": "https://shop.example/p/sku-1001",
        },
        {
            "productId": "SKU-2002",
            "name": "Desk lamp",
            "quantity": 1,
            "price": "24.5",
            "unitPrice": "24.5",
            "url": "https://shop.example/p/sku-2002",
        },
    ],
    separators=(",", ":"),
)


def contact_id(i: int) -> str:
    return f"bc{i:022x}"


def contacts(store: str, start: int, stop: int, at: int) -> Iterator[tuple]:
    for i in range(start, stop):
        yield (contact_id(i), store, f"c{i}@example.com", "{}", at, at)


def carts(store: str, start: int, stop: int, at: int, abandon_at: int) -> Iterator[tuple]:
    """Open (`active`) carts with ids start+1..stop, all due at `abandon_at`."""
    for i in range(start, stop):
        yield (
            i + 1,
            store,
            contact_id(i),
            f"cart-{i}",
            "active",
            _LINES,
            44_400_000,
            3,
            "EUR",
            at,
            at,
            abandon_at,
        )


# -- purchases and events (reports) ------------------------------------------------------

PURCHASE_COLUMNS = (
    "id",
    "store_id",
    "purchase_id",
    "contact_id",
    "cart_id",
    "channel",
    "purchased_at",
    "date_offset",
    "received_at",
    "total_price",
    "total_quantity",
    "currency",
    "payment_method",
    "source_type",
    "source_name",
    "fingerprint",
    "recovered",
    "data",
)
LINE_COLUMNS = (
    "purchase_row",
    "store_id",
    "purchased_at",
    "product_id",
    "name",
    "quantity",
    "price",
)
EVENT_COLUMNS = (
    "id",
    "store_id",
    "request_id",
    "idx",
    "type",
    "status",
    "received_at",
    "contact_id",
    "warnings",
    "data",
)
SOURCES = [
    ("digital-store", "Web shop"),
    ("digital-store", "Web shop"),
    ("digital-store", "Mobile app"),
    ("marketplace", "Marketplace A"),
    ("point-of-sale", "Store 3"),
    (None, None),
]
PAYMENTS = ["card", "card", "paypal", "transfer", "cash"]
EVENT_TYPES = (
    ["page-visit"] * 55
    + ["product-visited"] * 20
    + ["product-searched"] * 10
    + ["search"] * 5
    + ["login"] * 3
    + ["purchase"] * 4
    + ["newsletter-subscribe"] * 1
    + ["custom"] * 2
)
DAY_US = 86_400 * 1_000_000


def purchases(store: str, n: int, contacts_n: int, end: int, days: int, seed: int = 7):
    """Yield (purchase row, line rows) spread over `days` days before `end`."""
    rnd = random.Random(seed)
    span = days * DAY_US
    for i in range(n):
        at = end - span + (i * span) // n + rnd.randrange(0, 60_000_000)
        src_type, src_name = SOURCES[i % len(SOURCES)]
        qty = 1 + (i % 3)
        unit = 5_000_000 + (i % 97) * 1_000_000
        total = qty * unit
        cid = contact_id(i % contacts_n)
        row = (
            i + 1,
            store,
            f"order-{i}",
            cid,
            f"cart-p{i}",
            "browser" if i % 4 else "api",
            at,
            0,
            at,
            total,
            qty,
            "EUR",
            PAYMENTS[i % len(PAYMENTS)],
            src_type,
            src_name,
            f"fp{i:x}",
            1 if i % 50 == 0 else 0,
            "{}",
        )
        line = (i + 1, store, at, f"SKU-{i % 500}", f"Product {i % 500}", qty, total)
        yield row, line


ADJUSTMENT_COLUMNS = (
    "id",
    "store_id",
    "purchase_id",
    "adjustment_id",
    "purchase_row",
    "kind",
    "adjusted_at",
    "received_at",
    "amount",
    "currency",
    "purchased_at",
    "source_type",
    "source_name",
    "payment_method",
    "lines",
    "reason",
    "channel",
    "fingerprint",
)


def adjustments(store: str, n: int, end: int, days: int, every: int = 20):
    """Refunds of one purchase in `every` (5 % by default), as `purchases` seeds them: four
    in five a partial refund of a third, a day later; one in five a cancellation, two days
    later (none past `end`)."""
    span = days * DAY_US
    for k, i in enumerate(range(0, n, every), start=1):
        at = end - span + (i * span) // n
        src_type, src_name = SOURCES[i % len(SOURCES)]
        total = (1 + (i % 3)) * (5_000_000 + (i % 97) * 1_000_000)
        cancel = (i // every) % 5 == 0
        when = min(end - 1, at + (2 if cancel else 1) * DAY_US)
        yield (
            k,
            store,
            f"order-{i}",
            "cancellation" if cancel else f"rf-{i}",
            i + 1,
            "cancellation" if cancel else "refund",
            when,
            when,
            total if cancel else total // 3,
            "EUR",
            at,
            src_type,
            src_name,
            PAYMENTS[i % len(PAYMENTS)],
            None,
            None,
            "api",
            f"afp{i:x}",
        )


def events(store: str, n: int, contacts_n: int, end: int, days: int):
    span = days * DAY_US
    types = EVENT_TYPES
    nt = len(types)
    for i in range(n):
        at = end - span + (i * span) // n
        status = "accepted" if i % 40 else "duplicate"
        warnings = None if i % 25 else '[{"code":"coerced_number","path":"/events/0"}]'
        yield (
            i + 1,
            store,
            i // 3 + 1,
            i % 3,
            types[(i * 7) % nt],
            status,
            at,
            contact_id(i % contacts_n),
            warnings,
            '{"type":"page-visit"}',
        )
