"""Dashboard tenancy and sessions: which account sees which store with which role, and the
server-side sessions (docs/dashboard.md#accounts-and-roles, docs/privacy.md#accounts-and-sessions).

Roles, weakest first: `viewer` (reads), `admin` (reads, settings and actions), `owner` (also
grants and revokes accounts on the store). A session row is keyed by the SHA-256 of the random
token its cookie holds; times are microseconds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn
from shopevents.storage.statements import Insert

ROLES = ("viewer", "admin", "owner")
RANK = {role: i for i, role in enumerate(ROLES)}


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and RANK.get(role, -1) >= RANK[needed]


# --- grants -----------------------------------------------------------------------------------


def grant(conn: Conn, user_id: int, store_id: str, role: str, now: int) -> str | None:
    """Give `user_id` the role on the store; the role it had before (None: none)."""
    if role not in RANK:
        raise ValueError(f"a role is one of {', '.join(ROLES)}; received {role!r}")
    before = role_of(conn, user_id, store_id)
    if before is None:
        conn.execute(
            "INSERT INTO store_grants (user_id, store_id, role, granted_at) VALUES (?, ?, ?, ?)",
            (user_id, store_id, role, now),
        )
    elif before != role:
        conn.execute(
            "UPDATE store_grants SET role = ?, granted_at = ? WHERE user_id = ? AND store_id = ?",
            (role, now, user_id, store_id),
        )
    return before


def revoke(conn: Conn, user_id: int, store_id: str) -> bool:
    """Take the account's access to the store away; its sessions end. False: it had none."""
    if role_of(conn, user_id, store_id) is None:
        return False
    conn.execute("DELETE FROM store_grants WHERE user_id = ? AND store_id = ?", (user_id, store_id))
    end_sessions(conn, user_id)
    return True


def role_of(conn: Conn, user_id: int, store_id: str) -> str | None:
    row = conn.one(
        "SELECT role FROM store_grants WHERE user_id = ? AND store_id = ?", (user_id, store_id)
    )
    return str(row[0]) if row else None


def roles_of(conn: Conn, user_id: int) -> dict[str, str]:
    """Store id → role, for every store the account has a grant on."""
    return {
        str(r[0]): str(r[1])
        for r in conn.all("SELECT store_id, role FROM store_grants WHERE user_id = ?", (user_id,))
    }


def store_accounts(conn: Conn, store_id: str) -> list[dict[str, Any]]:
    return [
        {"userId": int(r[0]), "username": r[1], "role": r[2], "grantedAt": int(r[3])}
        for r in conn.all(
            "SELECT u.id, u.username, g.role, g.granted_at FROM store_grants g "
            "JOIN users u ON u.id = g.user_id WHERE g.store_id = ? ORDER BY u.username",
            (store_id,),
        )
    ]


def owner_count(conn: Conn, store_id: str) -> int:
    return int(
        conn.scalar(
            "SELECT COUNT(*) FROM store_grants WHERE store_id = ? AND role = 'owner'", (store_id,)
        )
        or 0
    )


def user_count(conn: Conn) -> int:
    return int(conn.scalar("SELECT COUNT(*) FROM users") or 0)


class UserRow(NamedTuple):
    id: int
    username: str
    password_hash: str


class UserListed(NamedTuple):
    id: int
    username: str
    created_at: int


_NEW_USER = Insert("users", "username, password_hash, created_at")


def new_user(conn: Conn, username: str, password_hash: str, now: int) -> int:
    return conn.insert_id(_NEW_USER, (username, password_hash, now))


def set_password_hash(conn: Conn, user_id: int, password_hash: str) -> None:
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


def users(conn: Conn) -> list[UserListed]:
    return [
        UserListed(int(r[0]), r[1], int(r[2]))
        for r in conn.all("SELECT id, username, created_at FROM users ORDER BY id")
    ]


def user_by_id(conn: Conn, user_id: int) -> UserRow | None:
    row = conn.one("SELECT id, username, password_hash FROM users WHERE id = ?", (user_id,))
    return UserRow(int(row[0]), row[1], row[2]) if row else None


def user_by_name(conn: Conn, username: str) -> UserRow | None:
    row = conn.one("SELECT id, username, password_hash FROM users WHERE username = ?", (username,))
    return UserRow(int(row[0]), row[1], row[2]) if row else None


def user_id_of(conn: Conn, username: str) -> int | None:
    value = conn.scalar("SELECT id FROM users WHERE username = ?", (username.strip(),))
    return int(value) if value is not None else None


# --- sessions ---------------------------------------------------------------------------------


def create_session(
    conn: Conn, session_id: str, user_id: int, now: int, expires: int, user_agent: str
) -> None:
    conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO dashboard_sessions (id, user_id, created_at, last_seen_at, expires_at, "
        "user_agent) VALUES (?, ?, ?, ?, ?, ?)",
        (session_id, user_id, now, now, expires, user_agent[:300]),
    )


def load_session(conn: Conn, session_id: str, now: int) -> dict[str, Any] | None:
    """The live session with its account, or None (unknown, ended or expired)."""
    row = conn.one(
        "SELECT s.user_id, u.username, u.password_hash, s.store_id, s.flash, s.last_seen_at "
        "FROM dashboard_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.id = ? AND s.expires_at > ?",
        (session_id, now),
    )
    if row is None:
        return None
    flash = loads(row[4]) if row[4] else []
    return {
        "user": (int(row[0]), row[1], row[2]),
        "store": row[3],
        "flash": [tuple(f) for f in flash] if isinstance(flash, list) else [],
        "lastSeenAt": int(row[5]),
    }


def touch_session(
    conn: Conn, session_id: str, now: int, store_id: str | None, flash: list[Any]
) -> None:
    conn.execute(
        "UPDATE dashboard_sessions SET last_seen_at = ?, store_id = ?, flash = ? WHERE id = ?",
        (now, store_id, dumps([list(f) for f in flash]) if flash else None, session_id),
    )


def _deleted(conn: Conn, sql: str, params: tuple[Any, ...]) -> int:
    """Run a DELETE; how many rows went."""
    if conn.dialect == "postgres":  # rowcount is not known in a pipelined transaction
        return int(conn.scalar(f"WITH d AS ({sql} RETURNING 1) SELECT count(*) FROM d", params))
    return max(int(conn.execute(sql, params).rowcount or 0), 0)


def end_session(conn: Conn, session_id: str, user_id: int | None = None) -> bool:
    if user_id is None:
        return _deleted(conn, "DELETE FROM dashboard_sessions WHERE id = ?", (session_id,)) > 0
    return (
        _deleted(
            conn,
            "DELETE FROM dashboard_sessions WHERE id = ? AND user_id = ?",
            (session_id, user_id),
        )
        > 0
    )


def end_sessions(conn: Conn, user_id: int, keep: str | None = None) -> int:
    """End every session of the account (but `keep`); how many ended."""
    return _deleted(
        conn,
        "DELETE FROM dashboard_sessions WHERE user_id = ? AND id <> ?",
        (user_id, keep or ""),
    )


def list_sessions(conn: Conn, user_id: int, now: int) -> list[dict[str, Any]]:
    return [
        {
            "id": r[0],
            "createdAt": int(r[1]),
            "lastSeenAt": int(r[2]),
            "expiresAt": int(r[3]),
            "userAgent": r[4],
        }
        for r in conn.all(
            "SELECT id, created_at, last_seen_at, expires_at, user_agent FROM dashboard_sessions "
            "WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC",
            (user_id, now),
        )
    ]
