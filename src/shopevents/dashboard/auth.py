"""Dashboard accounts, sessions and CSRF.

- Passwords are hashed with Argon2id (argon2-cffi); hashes are re-hashed on login when the
  parameters change.
- Sessions live on the server (table `dashboard_sessions`, `storage.accounts`): the cookie holds
  only a random token, signed (itsdangerous, key `dashboard.secret_key`; a random key per
  process if unset); the row is keyed by the token's SHA-256 and holds the account, the times,
  the user agent, the last store opened and the pending messages. Logging out deletes the row,
  so a copied cookie is refused afterwards; so do revoking a session, changing the password and
  revoking a grant. HttpOnly, SameSite=Lax, Secure on https.
- Every form carries a CSRF token derived from the cookie's token (HMAC); every POST checks it.
- Failed logins are throttled per client address and per username.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections import deque
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from shopevents import ids
from shopevents.clock import Clock
from shopevents.storage import accounts
from shopevents.storage.database import Conn

COOKIE = "shopevents_session"
_HASHER = PasswordHasher()
MIN_PASSWORD = 8

# --- users --------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def create_user(conn: Conn, username: str, password: str, now: int) -> int:
    username = username.strip()
    if not username or len(username) > 100:
        raise ValueError("a user name is 1 to 100 characters")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password is at least {MIN_PASSWORD} characters")
    if accounts.user_id_of(conn, username) is not None:
        raise ValueError(f"the user {username!r} exists already")
    return accounts.new_user(conn, username, hash_password(password), now)


def set_password(conn: Conn, username: str, password: str) -> bool:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password is at least {MIN_PASSWORD} characters")
    uid = accounts.user_id_of(conn, username)
    if uid is None:
        return False
    accounts.set_password_hash(conn, uid, hash_password(password))
    accounts.end_sessions(conn, uid)
    return True


def list_users(conn: Conn) -> list[dict[str, Any]]:
    return [
        {"id": u.id, "username": u.username, "createdAt": u.created_at}
        for u in accounts.users(conn)
    ]


def count_users(conn: Conn) -> int:
    return accounts.user_count(conn)


def user_by_id(conn: Conn, user_id: int) -> tuple[int, str, str] | None:
    row = accounts.user_by_id(conn, user_id)
    return (row.id, row.username, row.password_hash) if row else None


def check_password(conn: Conn, username: str, password: str) -> tuple[int, str, str] | None:
    """(id, username, hash) if the password is right. Runs a hash either way (no user-name
    oracle through timing)."""
    row = accounts.user_by_name(conn, username.strip())
    stored = row.password_hash if row else _dummy_hash()
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        new = hash_password(password)
        accounts.set_password_hash(conn, row.id, new)
        return row.id, row.username, new
    return row.id, row.username, row.password_hash


@functools.cache
def _dummy_hash() -> str:
    """What a login for an unknown name is checked against, made on first use: a hash costs
    about 0.15 s of CPU, which every start of the program would pay otherwise."""
    return _HASHER.hash(ids.secret(16))


# --- sessions -----------------------------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """Stamps and ages cookies by the injected clock (itsdangerous would read the system's)."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock.now().timestamp())


class Sessions:
    """Signs and reads the cookie's token; derives the CSRF token from it. A cookie is good
    for `max_age` seconds of `clock`."""

    def __init__(self, secret: str, max_age: int, clock: Clock) -> None:
        self.max_age = max_age
        self.key = (secret or ids.secret()).encode()
        self.serializer = URLSafeTimedSerializer(
            self.key.decode(),
            salt="shopevents.dashboard.session",
            signer=_ClockSigner,
            signer_kwargs={"clock": clock},
        )

    def token_of(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        return data if isinstance(data, str) and 20 <= len(data) <= 100 else None

    def dump(self, token: str) -> str:
        return self.serializer.dumps(token)

    def csrf(self, token: str) -> str:
        return hmac.new(self.key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def new_token() -> str:
    return ids.secret()


def session_id(token: str) -> str:
    """The row id of a session: the SHA-256 of its cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_ok(expected: str | None, token: str | None) -> bool:
    return bool(expected and token and hmac.compare_digest(str(expected), str(token)))


# --- login throttling -----------------------------------------------------------------------


class Throttle:
    """At most `limit` failed logins per key in `window` seconds of `clock`."""

    def __init__(self, clock: Clock, limit: int = 8, window: float = 300.0) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.fails: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self.fails.setdefault(key, deque())
        cutoff = self.clock.now().timestamp() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.limit for k in keys)

    def fail(self, *keys: str) -> None:
        if len(self.fails) > 10_000:
            self.fails.clear()
        for k in keys:
            self._recent(k).append(self.clock.now().timestamp())

    def clear(self, *keys: str) -> None:
        for k in keys:
            self.fails.pop(k, None)
