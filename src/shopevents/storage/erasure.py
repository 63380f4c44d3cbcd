"""The rows an erasure touches, and what it does to each (one statement per table).

A contact's personal data lives in its own rows (the contact, its trackers, merges and
activities: deleted) and in rows whose figures must survive as anonymous ones (events,
requests, carts, purchases: kept, with the contact cut and the bytes that name it emptied).
Bodies, payloads and answers that mention the contact anywhere (its e-mail in any case, one
of its tracker ids or contact ids) are found by content: the raw request of a REST write or
a rejected event carries no contact id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopevents import ids
from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn

ERASED_CONTACT = "erased"
"""What a kept cart or visit names as its contact once its contact is erased."""

# (table, column, is binary): columns searched for the contact's needles
_SEARCHED: dict[str, list[tuple[str, bool]]] = {
    "requests": [("body", True), ("response", False)],
    "events": [("data", False), ("warnings", False)],
    "quarantine": [("raw", True), ("errors", False)],
    "outbox": [("payload", False)],
    "webhook_deliveries": [("body", True), ("last_error", False)],
    "purchases": [("data", False)],
    "purchase_conflicts": [("data", False)],
    "refused_adjustments": [("data", False), ("reason", False)],
    "carts": [("recovery_url", False), ("lines", False)],
    "visits": [("info", False)],
    "imports": [("errors", False)],
}


def _mentions(conn: Conn, columns: list[tuple[str, bool]], needles: Sequence[str]) -> str:
    """A condition true when one of `columns` holds one of the (lower-case) needles."""
    tests = []
    for col, binary in columns:
        if conn.dialect == "postgres":
            text = f"lower(encode({col}, 'escape'))" if binary else f"lower({col}::text)"
            tests += [f"strpos({text}, ?) > 0" for _ in needles]
        else:
            tests += [f"instr(lower(CAST({col} AS TEXT)), ?) > 0" for _ in needles]
    return "(" + " OR ".join(tests) + ")"


def _params(columns: list[tuple[str, bool]], needles: Sequence[str]) -> list[str]:
    return [n for _ in columns for n in needles]


def key(conn: Conn) -> bytes:
    """The server's key for suppression hashes, made on first use."""
    value = conn.scalar("SELECT value FROM server_secrets WHERE name = 'suppression'")
    if value is None:
        conn.execute(
            "INSERT INTO server_secrets (name, value) VALUES ('suppression', ?) "
            "ON CONFLICT (name) DO NOTHING",
            (ids.hex_secret(),),
        )
        value = conn.scalar("SELECT value FROM server_secrets WHERE name = 'suppression'")
    return bytes.fromhex(str(value))


def contact_of_email(conn: Conn, store_id: str, email: str) -> str | None:
    return conn.scalar(
        "SELECT id FROM contacts WHERE store_id = ? AND email = ?", (store_id, email)
    )


def merged_into(conn: Conn, store_id: str, contact_ids: list[str]) -> list[str]:
    """`contact_ids` and every contact merged into one of them, at any depth."""
    found = list(dict.fromkeys(contact_ids))
    frontier = list(found)
    while frontier:
        test, params = conn.any_of(frontier)
        rows = conn.all(
            f"SELECT id FROM contacts WHERE store_id = ? AND merged_into {test} "
            f"UNION SELECT from_contact FROM merges WHERE store_id = ? AND into_contact {test}",
            (store_id, *params, store_id, *params),
        )
        frontier = [r[0] for r in rows if r[0] not in found]
        found += frontier
    return found


def trackers_of(conn: Conn, store_id: str, contact_ids: list[str]) -> list[str]:
    test, params = conn.any_of(contact_ids)
    return [
        r[0]
        for r in conn.all(
            f"SELECT tracker_id FROM trackers WHERE store_id = ? AND contact_id {test}",
            (store_id, *params),
        )
    ]


def erase_rows(
    conn: Conn, store_id: str, contact_ids: list[str], needles: list[str]
) -> dict[str, int]:
    """Erase the contacts' rows and every stored byte that names them; the counts per table."""
    counts: dict[str, int] = {}
    cids, cparams = conn.any_of(contact_ids)
    s = (store_id,)

    def run(name: str, sql: str, params: Sequence[Any]) -> None:
        if conn.dialect == "postgres":  # rowcount is not known in a pipelined transaction
            n = conn.scalar(f"WITH d AS ({sql} RETURNING 1) SELECT count(*) FROM d", params)
        else:
            n = conn.execute(sql, params).rowcount
        counts[name] = counts.get(name, 0) + max(int(n or 0), 0)

    # requests of the contact or naming it: kept for the counts, emptied
    req = conn.all(
        f"SELECT id FROM requests WHERE store_id = ? AND (contact_id {cids} OR "
        f"{_mentions(conn, _SEARCHED['requests'], needles)})",
        (*s, *cparams, *_params(_SEARCHED["requests"], needles)),
    )
    request_ids = [r[0] for r in req]
    for chunk in _chunks(request_ids):
        rids, rparams = conn.any_of(chunk)
        run(
            "requests",
            "UPDATE requests SET body = ?, response = ?, tracker_id = NULL, "
            "contact_id = NULL, "
            f"origin = NULL WHERE id {rids}",
            (b"", '{"results": []}', *rparams),
        )
        run(
            "events",
            f"UPDATE events SET data = '{{}}', warnings = NULL, contact_id = NULL "
            f"WHERE request_id {rids}",
            rparams,
        )
        run("quarantine", f"DELETE FROM quarantine WHERE request_id {rids}", rparams)
    run(
        "events",
        "UPDATE events SET data = '{}', warnings = NULL, contact_id = NULL WHERE store_id = ? "
        f"AND (contact_id {cids} OR {_mentions(conn, _SEARCHED['events'], needles)})",
        (*s, *cparams, *_params(_SEARCHED["events"], needles)),
    )
    for table in ("quarantine", "outbox"):
        run(
            table,
            f"DELETE FROM {table} WHERE store_id = ? AND "
            f"{_mentions(conn, _SEARCHED[table], needles)}",
            (*s, *_params(_SEARCHED[table], needles)),
        )
    deliveries = [
        r[0]
        for r in conn.all(
            "SELECT id FROM webhook_deliveries WHERE store_id = ? AND "
            f"{_mentions(conn, _SEARCHED['webhook_deliveries'], needles)}",
            (*s, *_params(_SEARCHED["webhook_deliveries"], needles)),
        )
    ]
    for chunk in _chunks(deliveries):
        dids, dparams = conn.any_of(chunk)
        run("webhook_attempts", f"DELETE FROM webhook_attempts WHERE delivery_id {dids}", dparams)
        run("webhook_deliveries", f"DELETE FROM webhook_deliveries WHERE id {dids}", dparams)
    # purchases keep amount, lines and date, and lose their contact
    rows = conn.all(
        "SELECT id, data FROM purchases WHERE store_id = ? AND (contact_id "
        f"{cids} OR {_mentions(conn, _SEARCHED['purchases'], needles)})",
        (*s, *cparams, *_params(_SEARCHED["purchases"], needles)),
    )
    for row_id, data in rows:
        run(
            "purchases",
            "UPDATE purchases SET contact_id = NULL, request_id = NULL, data = ? WHERE id = ?",
            (dumps(_without(loads(data), needles)), row_id),
        )
    for table in ("purchase_conflicts", "refused_adjustments"):
        run(
            table,
            f"DELETE FROM {table} WHERE store_id = ? AND "
            f"{_mentions(conn, _SEARCHED[table], needles)}",
            (*s, *_params(_SEARCHED[table], needles)),
        )
    run(
        "carts",
        f"UPDATE carts SET contact_id = '{ERASED_CONTACT}', recovery_url = NULL, "
        f"purchase_link = NULL, abandon_at = NULL WHERE store_id = ? AND (contact_id {cids} OR "
        f"{_mentions(conn, _SEARCHED['carts'], needles)})",
        (*s, *cparams, *_params(_SEARCHED["carts"], needles)),
    )
    run(
        "visits",
        f"UPDATE visits SET contact_id = '{ERASED_CONTACT}', info = NULL WHERE store_id = ? AND "
        f"(contact_id {cids} OR {_mentions(conn, _SEARCHED['visits'], needles)})",
        (*s, *cparams, *_params(_SEARCHED["visits"], needles)),
    )
    run(
        "imports",
        "UPDATE imports SET errors = '[]' WHERE store_id = ? AND "
        f"{_mentions(conn, _SEARCHED['imports'], needles)}",
        (*s, *_params(_SEARCHED["imports"], needles)),
    )
    run("activities", f"DELETE FROM activities WHERE contact_id {cids}", cparams)
    run(
        "trackers", f"DELETE FROM trackers WHERE store_id = ? AND contact_id {cids}", (*s, *cparams)
    )
    run(
        "merges",
        f"DELETE FROM merges WHERE store_id = ? AND (from_contact {cids} OR into_contact {cids})",
        (*s, *cparams, *cparams),
    )
    run("contacts", f"DELETE FROM contacts WHERE store_id = ? AND id {cids}", (*s, *cparams))
    return {k: v for k, v in counts.items() if v}


def _without(value: Any, needles: list[str]) -> Any:
    """`value` with every text that names the contact removed (objects lose the key)."""
    if isinstance(value, dict):
        return {
            k: _without(v, needles)
            for k, v in value.items()
            if not (isinstance(v, str) and _names(v, needles))
        }
    if isinstance(value, list):
        return [
            _without(v, needles) for v in value if not (isinstance(v, str) and _names(v, needles))
        ]
    return value


def _names(text: str, needles: list[str]) -> bool:
    low = text.lower()
    return any(n in low for n in needles)


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


# -- suppressions and the audit log ------------------------------------------------------------


def suppress(
    conn: Conn, store_id: str, kind: str, digests: list[str], erasure_id: str, now: int
) -> None:
    conn.executemany(
        "INSERT INTO suppressions (store_id, kind, digest, erasure_id, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (store_id, kind, digest) DO NOTHING",
        [(store_id, kind, d, erasure_id, now) for d in dict.fromkeys(digests)],
    )


def suppressed(conn: Conn, store_id: str, kind: str, digests: list[str]) -> set[str]:
    if not digests:
        return set()
    test, params = conn.any_of(digests)
    return {
        r[0]
        for r in conn.all(
            f"SELECT digest FROM suppressions WHERE store_id = ? AND kind = ? AND digest {test}",
            (store_id, kind, *params),
        )
    }


def any_suppressions(conn: Conn, store_id: str) -> bool:
    return (
        conn.one("SELECT 1 FROM suppressions WHERE store_id = ? LIMIT 1", (store_id,)) is not None
    )


def record(
    conn: Conn,
    erasure_id: str,
    store_id: str,
    email_digest: str,
    actor: str,
    now: int,
    status: str,
    counts: dict[str, int],
    pending_email: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO erasures (id, store_id, email_digest, actor, requested_at, finished_at, "
        "status, counts, pending_email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            erasure_id,
            store_id,
            email_digest,
            actor,
            now,
            now if status == "done" else None,
            status,
            dumps(counts),
            pending_email,
        ),
    )


def finish(conn: Conn, erasure_id: str, now: int, counts: dict[str, int]) -> bool:
    """Mark a pending erasure done (compare-and-set); False if another worker did."""
    n = conn.execute(
        "UPDATE erasures SET status = 'done', finished_at = ?, counts = ?, pending_email = NULL "
        "WHERE id = ? AND status = 'pending'",
        (now, dumps(counts), erasure_id),
    ).rowcount
    return bool(n)


def next_pending(conn: Conn) -> tuple[str, str, str] | None:
    """(erasure id, store id, e-mail) of the oldest pending erasure."""
    row = conn.one(
        "SELECT id, store_id, pending_email FROM erasures WHERE status = 'pending' "
        "ORDER BY requested_at LIMIT 1"
    )
    return (row[0], row[1], row[2]) if row else None


def get(conn: Conn, store_id: str, erasure_id: str) -> dict[str, Any] | None:
    row = conn.one(
        "SELECT id, actor, requested_at, finished_at, status, counts FROM erasures "
        "WHERE store_id = ? AND id = ?",
        (store_id, erasure_id),
    )
    return _erasure(row) if row else None


def listed(conn: Conn, store_id: str, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.all(
        "SELECT id, actor, requested_at, finished_at, status, counts FROM erasures "
        "WHERE store_id = ? ORDER BY requested_at DESC, id DESC LIMIT ?",
        (store_id, limit),
    )
    return [_erasure(r) for r in rows]


def by_digest(conn: Conn, store_id: str, email_digest: str) -> dict[str, Any] | None:
    row = conn.one(
        "SELECT id, actor, requested_at, finished_at, status, counts FROM erasures "
        "WHERE store_id = ? AND email_digest = ? ORDER BY requested_at DESC LIMIT 1",
        (store_id, email_digest),
    )
    return _erasure(row) if row else None


def _erasure(row: Any) -> dict[str, Any]:
    return {
        "id": row[0],
        "actor": row[1],
        "requested_at": int(row[2]),
        "finished_at": None if row[3] is None else int(row[3]),
        "status": row[4],
        "counts": loads(row[5]) or {},
    }


def linked_rows(conn: Conn, store_id: str, contact_ids: list[str]) -> int:
    """How many events and activities the contacts have: the size of their erasure."""
    test, params = conn.any_of(contact_ids)
    return int(
        conn.scalar(
            f"SELECT (SELECT COUNT(*) FROM events WHERE store_id = ? AND contact_id {test}) + "
            f"(SELECT COUNT(*) FROM activities WHERE contact_id {test})",
            (store_id, *params, *params),
        )
        or 0
    )
