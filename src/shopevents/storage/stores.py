"""Stores and their API keys."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import msgspec

from shopevents import ids as new_ids
from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn


class StoreRecord(msgspec.Struct, kw_only=True):
    id: str
    name: str
    currency: str = "EUR"
    timezone: str = "UTC"
    domains: list[str] = []
    abandon_after_seconds: int = 1800
    tag_mode: bool = False
    tracking_enabled: bool = True
    excluded_paths: list[str] = []
    created_at: int = 0
    reporting_currency: str | None = None
    # Bots (docs/privacy.md#bots): count crawlers and headless browsers as people.
    keep_bots: bool = False
    # Consent (docs/privacy.md#consent): nothing is recorded for a request without the
    # visitor's `consent: true`; and a browser's `Sec-GPC: 1` / `DNT: 1` counts as a refusal.
    consent_required: bool = False
    honour_gpc: bool = False

    @property
    def reporting(self) -> str:
        """The currency of the store's reports: its reporting currency, else its own."""
        return self.reporting_currency or self.currency


class ApiKey(msgspec.Struct, kw_only=True):
    id: str
    store_id: str
    name: str
    created_at: int
    revoked_at: int | None


_COLS = "id, name, currency, timezone, domains, abandon_after_seconds, tag_mode, tracking_enabled, excluded_paths, created_at, reporting_currency, consent_required, honour_gpc"

_READ = _COLS + ", keep_bots"  # read last: `_store` takes it as row[-1]


def _store(row: Any) -> StoreRecord:
    return StoreRecord(
        id=row[0],
        name=row[1],
        currency=row[2],
        timezone=row[3],
        domains=loads(row[4]),
        abandon_after_seconds=int(row[5]),
        tag_mode=bool(row[6]),
        tracking_enabled=bool(row[7]),
        excluded_paths=loads(row[8]),
        created_at=int(row[9]),
        reporting_currency=row[10],
        keep_bots=bool(row[-1]),  # _READ's last column
        consent_required=bool(row[11]),
        honour_gpc=bool(row[12]),
    )


def create_store(
    conn: Conn,
    name: str,
    *,
    now: int,
    currency: str = "EUR",
    timezone: str = "UTC",
    domains: list[str] | None = None,
    store_id: str | None = None,
) -> StoreRecord:
    rec = StoreRecord(
        id=store_id or new_ids.store_id(),
        name=name,
        currency=currency,
        timezone=timezone,
        domains=list(domains or []),  # checked by domain/store_settings.py
        created_at=now,
    )
    conn.execute(
        f"INSERT INTO stores ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rec.id,
            rec.name,
            rec.currency,
            rec.timezone,
            dumps(rec.domains),
            rec.abandon_after_seconds,
            int(rec.tag_mode),
            int(rec.tracking_enabled),
            dumps(rec.excluded_paths),
            rec.created_at,
            rec.reporting_currency,
            int(rec.consent_required),
            int(rec.honour_gpc),
        ),
    )
    return rec


def get_store(conn: Conn, store_id: str) -> StoreRecord | None:
    row = conn.one(f"SELECT {_READ} FROM stores WHERE id = ?", (store_id,))
    return _store(row) if row else None


def list_stores(conn: Conn) -> list[StoreRecord]:
    return [_store(r) for r in conn.all(f"SELECT {_READ} FROM stores ORDER BY created_at, id")]


def find_store_by_name(conn: Conn, name: str) -> StoreRecord | None:
    row = conn.one(
        f"SELECT {_READ} FROM stores WHERE name = ? ORDER BY created_at LIMIT 1", (name,)
    )
    return _store(row) if row else None


UPDATABLE = {
    "name": str,
    "currency": str,
    "timezone": str,
    "domains": list,
    "abandon_after_seconds": int,
    "tag_mode": bool,
    "tracking_enabled": bool,
    "excluded_paths": list,
    "reporting_currency": str,
    "keep_bots": bool,
    "consent_required": bool,
    "honour_gpc": bool,
}


def update_store(conn: Conn, store_id: str, changes: dict[str, Any]) -> StoreRecord | None:
    for key, value in changes.items():
        if key not in UPDATABLE:
            raise KeyError(key)
        if isinstance(value, list):
            value = dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        conn.execute(f"UPDATE stores SET {key} = ? WHERE id = ?", (value, store_id))
    return get_store(conn, store_id)


# --- API keys: the secret is 32 random bytes, so a SHA-256 of it is a safe stored form ---


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    conn: Conn, store_id: str, *, now: int, name: str = "default"
) -> tuple[str, str]:
    key_id = new_ids.api_key_id()
    secret = new_ids.secret()
    conn.execute(
        "INSERT INTO api_keys (id, store_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, store_id, name, _hash(secret), now),
    )
    return key_id, secret


class ActiveKey(msgspec.Struct, frozen=True):
    """An API key that is not revoked: its store and the SHA-256 of its secret."""

    store_id: str
    secret_hash: str

    def opens_with(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, _hash(secret))


KEYS_PER_READ = 200


def active_api_keys(conn: Conn, key_ids: Collection[str]) -> dict[str, ActiveKey]:
    """The keys among `key_ids` that exist and are not revoked, by id."""
    ids = list(key_ids)
    found: dict[str, ActiveKey] = {}
    for start in range(0, len(ids), KEYS_PER_READ):
        part = ids[start : start + KEYS_PER_READ]
        test, params = conn.any_of(part)
        for key_id, store_id, secret_hash in conn.all(
            f"SELECT id, store_id, secret_hash FROM api_keys WHERE id {test} AND revoked_at IS NULL",
            params,
        ):
            found[key_id] = ActiveKey(store_id, secret_hash)
    return found


class ApiKeyCheck:
    """Which store an API key opens, read from the database for every request, and one read
    for all the requests waiting: at most one look-up is in flight, and the keys of the
    requests that arrive meanwhile wait for the next, which starts when it ends. Each
    request is thus answered from a read that began after it arrived, so a key revoked by
    anyone (the dashboard, the CLI in another process, another server) is refused from the
    next request on, and there is no cache to clear or expire. One per server (the
    `AppContext` holds it); `read` runs a function on a reader connection with the read
    deadline."""

    def __init__(self, read: Callable[[Callable[[Conn], Any]], Awaitable[Any]]) -> None:
        self._read = read
        self._waiting: dict[str, asyncio.Future[ActiveKey | None]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def active(self, key_id: str) -> ActiveKey | None:
        """The key if it exists and is not revoked, as the database has it now. Raises what
        `read` raises (`StorageUnavailable` when the database does not answer in time)."""
        loop = asyncio.get_running_loop()
        answer = self._waiting.get(key_id)
        if answer is None:
            answer = self._waiting[key_id] = loop.create_future()
        if self._reading is None:
            self._reading = loop.create_task(self._read_while_waiting())
        # shielded: a request that goes away does not cancel the others' answer
        return await asyncio.shield(answer)

    async def _read_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await self._read(
                        functools.partial(active_api_keys, key_ids=tuple(batch))
                    )
                except Exception as exc:
                    # the read failed (the database did not answer in time): the requests that
                    # came in meanwhile, which have waited as long, get the same answer
                    failed = [*batch.values(), *self._waiting.values()]
                    self._waiting = {}
                    for answer in failed:
                        if not answer.done():
                            answer.set_exception(exc)
                else:
                    for key_id, answer in batch.items():
                        if not answer.done():
                            answer.set_result(found.get(key_id))
        finally:
            self._reading = None


def list_api_keys(conn: Conn, store_id: str) -> list[ApiKey]:
    rows = conn.all(
        "SELECT id, store_id, name, created_at, revoked_at FROM api_keys WHERE store_id = ? ORDER BY created_at",
        (store_id,),
    )
    return [
        ApiKey(id=r[0], store_id=r[1], name=r[2], created_at=int(r[3]), revoked_at=r[4])
        for r in rows
    ]


def revoke_api_key(conn: Conn, store_id: str, key_id: str, *, now: int) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND store_id = ? AND revoked_at IS NULL",
        (now, key_id, store_id),
    )
    return cur.rowcount > 0


# --- Segment write keys: the key itself authenticates (Basic user or `writeKey`), so it is
# looked up by its SHA-256; 32 random bytes make that a safe stored form ---


class WriteKey(msgspec.Struct, kw_only=True):
    id: str
    store_id: str
    name: str
    created_at: int
    revoked_at: int | None


def create_write_key(
    conn: Conn, store_id: str, *, now: int, name: str = "default"
) -> tuple[str, str]:
    """A new write key: (id, key). The key is shown once; only its hash is stored."""
    key_id = new_ids.write_key_id()
    key = new_ids.secret()
    conn.execute(
        "INSERT INTO segment_write_keys (id, store_id, name, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, store_id, name, _hash(key), now),
    )
    return key_id, key


def check_write_key(conn: Conn, key: str) -> str | None:
    """The store id an active write key belongs to, or None."""
    row = conn.one(
        "SELECT store_id FROM segment_write_keys WHERE key_hash = ? AND revoked_at IS NULL",
        (_hash(key),),
    )
    return row[0] if row else None


def list_write_keys(conn: Conn, store_id: str) -> list[WriteKey]:
    rows = conn.all(
        "SELECT id, store_id, name, created_at, revoked_at FROM segment_write_keys "
        "WHERE store_id = ? ORDER BY created_at, id",
        (store_id,),
    )
    return [
        WriteKey(id=r[0], store_id=r[1], name=r[2], created_at=int(r[3]), revoked_at=r[4])
        for r in rows
    ]


def revoke_write_key(conn: Conn, store_id: str, key_id: str, *, now: int) -> bool:
    """Revoke an active key; False if the store has no such active key. (Checked with a read:
    a row count is not known in the group committer's pipeline.)"""
    active = conn.one(
        "SELECT 1 FROM segment_write_keys WHERE id = ? AND store_id = ? AND revoked_at IS NULL",
        (key_id, store_id),
    )
    if active is None:
        return False
    conn.execute(
        "UPDATE segment_write_keys SET revoked_at = ? WHERE id = ? AND store_id = ?",
        (now, key_id, store_id),
    )
    return True
