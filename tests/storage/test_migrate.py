"""Migrations that rewrite stored data: what a database written by an earlier version holds
reads as the current version writes it."""

from __future__ import annotations

import json

from shopevents.storage import listings
from shopevents.storage.database import Database

# Contact fields as JSON text, stored before NULs were removed from them, and as they read
# after migrating. `\\u0000` is an escaped backslash followed by the letters u0000: text, kept.
LEGACY_FIELDS = [
    ("c1", "a@example.com", r'{"tier":"gold\u0000","note":"x"}', {"tier": "gold", "note": "x"}),
    (
        "c2",
        "b@example.com",
        r'{"path":"C:\\u0000dir","tier\u0000":"silver"}',
        {"path": "C:\\u0000dir", "tier": "silver"},
    ),
    ("c3", "c@example.com", r'{"w":"\\\u0000","n":"\u0000\u0000"}', {"w": "\\", "n": ""}),
    ("c4", "d@example.com", r'{"w":"\\\\u0000"}', {"w": "\\\\u0000"}),
]


def test_contact_fields_lose_their_nuls_and_the_field_filter_reads_them(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate(up_to=1200)
        conn = db.connect()
        try:
            with conn.transaction():
                for contact_id, email, fields, _ in LEGACY_FIELDS:
                    conn.execute(
                        "INSERT INTO contacts (id, store_id, email, fields, created_at, "
                        "updated_at) VALUES (?, 's1', ?, ?, 1, 1)",
                        (contact_id, email, fields),
                    )
        finally:
            conn.close()
        assert "1210_contact_fields_without_nul.sql" in db.migrate()
        conn = db.connect()
        try:
            stored = dict(conn.all("SELECT id, fields FROM contacts ORDER BY id"))
            for contact_id, _, _, expected in LEGACY_FIELDS:
                assert json.loads(stored[contact_id]) == expected, stored[contact_id]
                assert "\x00" not in json.loads(stored[contact_id]).get("w", "")
            gold = listings.contacts(conn, "s1", field=("tier", "gold"))
            silver = listings.contacts(conn, "s1", field=("tier", "silver"))
            assert [c["_email"] for c in gold] == ["a@example.com"]
            assert [c["_email"] for c in silver] == ["b@example.com"]
        finally:
            conn.close()
    finally:
        db.close()
