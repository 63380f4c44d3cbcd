"""Who is acting: trackers, contacts, and merges (reference §6).

- No tracker and no e-mail: a new anonymous contact with a fresh tracker.
- An e-mail finds the contact with that e-mail. If none has it, the tracker's anonymous
  contact becomes identified; with no usable tracker contact, a new identified contact.
- A tracker of an anonymous contact that logs in as an e-mail another contact already has:
  the anonymous contact is merged into that contact (events, activities, carts, purchases
  and trackers move); the merge is recorded and can be undone.
- A tracker of a contact identified with another e-mail (a shared device) now points to
  the contact of the new e-mail; nothing is merged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shopevents.domain import carts, erasure, outbox, timeline
from shopevents.ids import new_id
from shopevents.storage import contacts, visits
from shopevents.storage.codec import dumps, loads, money_from_db
from shopevents.storage.database import Conn


class Identity(msgspec.Struct, kw_only=True):
    contact_id: str
    tracker_id: str
    email: str | None
    created: bool = False
    identified: bool = False
    merged_from: str | None = None
    erased: bool = False
    """The request named an erased contact's tracker: a new tracker was made, and the
    identification it carried was dropped."""


class _Known(msgspec.Struct):
    """What the open transaction knows of trackers and e-mails (looked up or written by it):
    (store, tracker) → (contact, its e-mail) or None; (store, e-mail) → contact or None;
    contact → its purchase total, for contacts created or counted in it."""

    trackers: dict[tuple[str, str], tuple[str, str | None] | None]
    emails: dict[tuple[str, str], str | None]
    totals: dict[str, Decimal] = {}


def _known(conn: Conn) -> _Known:
    known = conn.tx_memo.get("identity")
    if known is None:
        known = conn.tx_memo["identity"] = _Known({}, {})
    return known  # type: ignore[no-any-return]


def _forget(conn: Conn) -> None:
    conn.tx_memo.pop("identity", None)


def prefetch(conn: Conn, store_id: str, trackers: list[str], emails: list[str]) -> None:
    """Look up many trackers and e-mails in one round trip, for the requests of one
    transaction; `resolve` then reads them from memory."""
    known = _known(conn)
    trackers = [t for t in dict.fromkeys(trackers) if (store_id, t) not in known.trackers]
    emails = [e for e in dict.fromkeys(emails) if (store_id, e) not in known.emails]
    if not trackers and not emails:
        return
    for t in trackers:
        known.trackers[(store_id, t)] = None
    for e in emails:
        known.emails[(store_id, e)] = None
    found = contacts.of_trackers_and_emails(conn, store_id, trackers, emails)
    for hit in found:
        if hit.tracker_id is not None:
            known.trackers[(store_id, hit.tracker_id)] = (hit.contact_id, hit.email)
        else:
            known.emails[(store_id, hit.email or "")] = hit.contact_id


def known_contacts(conn: Conn, store_id: str, trackers: list[str], emails: list[str]) -> list[str]:
    """The contacts of these trackers and e-mails, as far as the transaction knows them."""
    known = _known(conn)
    out = [hit[0] for t in trackers if (hit := known.trackers.get((store_id, t)))]
    out.extend(cid for e in emails if (cid := known.emails.get((store_id, e))))
    return out


def _contact_by_email(conn: Conn, store_id: str, email: str) -> str | None:
    known = _known(conn)
    key = (store_id, email)
    if key not in known.emails:
        known.emails[key] = contacts.id_of_email(conn, store_id, email)
    return known.emails[key]


def _tracker(conn: Conn, store_id: str, tracker_id: str) -> tuple[str, str | None] | None:
    known = _known(conn)
    key = (store_id, tracker_id)
    if key not in known.trackers:
        hit = contacts.of_tracker(conn, store_id, tracker_id)
        known.trackers[key] = None if hit is None else (hit.contact_id, hit.email)
    return known.trackers[key]


def _tracker_and_email(
    conn: Conn, store_id: str, tracker_id: str, email: str
) -> tuple[tuple[str, str | None] | None, str | None]:
    """Both look-ups in one round trip: (the tracker's contact and e-mail, the e-mail's contact)."""
    known = _known(conn)
    if (store_id, tracker_id) not in known.trackers or (store_id, email) not in known.emails:
        prefetch(conn, store_id, [tracker_id], [email])
    return known.trackers[(store_id, tracker_id)], known.emails[(store_id, email)]


class _NewContact(msgspec.Struct):
    """A contact created in the open transaction and not written yet: its purchases are
    counted here instead of with an UPDATE each."""

    store_id: str
    email: str | None
    fields: str
    created_at: int
    updated_at: int
    total_purchases: int = 0
    total_amount: Decimal = Decimal(0)
    first_purchase_at: int | None = None
    last_purchase_at: int | None = None


_NEW_CONTACTS = "new_contacts"
_INSERT_CONTACT = (
    "INSERT INTO contacts (id, store_id, email, fields, created_at, updated_at, total_purchases, "
    "total_amount, first_purchase_at, last_purchase_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _write_new_contacts(conn: Conn) -> None:
    """Composes the rows of the contacts created in the transaction (`Conn.defer`): just
    before COMMIT, or before any statement that names `contacts`."""
    _insert_contacts(conn, conn.tx_memo.pop(_NEW_CONTACTS, None) or {})


def _insert_contacts(conn: Conn, pending: dict[str, _NewContact]) -> None:
    for cid, c in pending.items():
        conn.append(
            _INSERT_CONTACT,
            (
                cid,
                c.store_id,
                c.email,
                c.fields,
                c.created_at,
                c.updated_at,
                c.total_purchases,
                str(c.total_amount),
                c.first_purchase_at,
                c.last_purchase_at,
            ),
        )


def _new_contact(
    conn: Conn, store_id: str, email: str | None, now: int, fields: dict[str, Any] | None = None
) -> str:
    cid = new_id(now)
    row = _NewContact(store_id, email, dumps(fields or {}), now, now)
    if conn.in_tx:
        pending = conn.tx_memo.get(_NEW_CONTACTS)
        if pending is None:
            pending = conn.tx_memo[_NEW_CONTACTS] = {}
            conn.defer("contacts", _write_new_contacts)
        pending[cid] = row
    else:
        _insert_contacts(conn, {cid: row})
    known = _known(conn)
    known.totals[cid] = Decimal(0)
    if email is not None:
        known.emails[(store_id, email)] = cid
    timeline.add(conn, store_id, cid, now, "entity-created", {"email": email} if email else {})
    if email is not None:  # anonymous visitors are not announced; `contact.identified` follows
        outbox.emit(conn, store_id, "contact.created", now, {"contactId": cid, "email": email})
    return cid


def _point_tracker(
    conn: Conn,
    store_id: str,
    tracker_id: str,
    contact_id: str,
    email: str | None,
    now: int,
    exists: bool,
) -> None:
    _known(conn).trackers[(store_id, tracker_id)] = (contact_id, email)
    if exists:
        conn.execute(
            "UPDATE trackers SET contact_id = ?, last_seen = ? WHERE store_id = ? AND tracker_id = ?",
            (contact_id, now, store_id, tracker_id),
        )
    else:
        conn.append(
            "INSERT INTO trackers (store_id, tracker_id, contact_id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
            (store_id, tracker_id, contact_id, now, now),
        )


def resolve(
    conn: Conn,
    store_id: str,
    tracker_id: str | None,
    email: str | None,
    now: int,
    request_id: int | None = None,
    fields: dict[str, Any] | None = None,
    *,
    minted: str | None = None,
) -> Identity:
    """Who is acting. A contact created here gets `fields` at once (`created` is then True and
    the caller need not update them). A request without a tracker gets `minted` (the tracker
    a cluster collector already answered with), else a new one."""
    fresh = not tracker_id and bool(minted)  # just minted: no erased contact ever had it
    tracker_id = tracker_id or minted
    if tracker_id and email is not None:
        known, owner = _tracker_and_email(conn, store_id, tracker_id, email)
    else:
        known = _tracker(conn, store_id, tracker_id) if tracker_id else None
        owner = _contact_by_email(conn, store_id, email) if email is not None else None
    erased = False
    if (
        tracker_id
        and known is None
        and not fresh
        and erasure.tracker_suppressed(conn, store_id, tracker_id)
    ):
        tracker_id, email, owner, fields, erased = None, None, None, None, True
    tracker = tracker_id or new_id(now)
    if known is not None:  # a tracker seen before: its lastSeen moves
        visits.mark_seen(conn, store_id, tracker, now)
    step = next_step(known, owner, email)
    if step == "known":
        assert known is not None
        return Identity(contact_id=known[0], tracker_id=tracker, email=known[1])
    if step == "new-anonymous":
        cid = _new_contact(conn, store_id, None, now, fields)
        _point_tracker(conn, store_id, tracker, cid, None, now, exists=False)
        return Identity(contact_id=cid, tracker_id=tracker, email=None, created=True, erased=erased)
    assert email is not None
    if step in ("owner", "owner-repoint") and owner is not None:
        _point_tracker(conn, store_id, tracker, owner, email, now, exists=step == "owner-repoint")
        return Identity(contact_id=owner, tracker_id=tracker, email=email)
    if step == "same" and owner is not None:
        return Identity(contact_id=owner, tracker_id=tracker, email=email)
    if step == "merge" and owner is not None and known is not None:
        merge(conn, store_id, known[0], owner, now, request_id)
        return Identity(contact_id=owner, tracker_id=tracker, email=email, merged_from=known[0])
    if step == "identify" and known is not None:
        contacts.set_email(conn, known[0], email, now)
        memo = _known(conn)
        memo.emails[(store_id, email)] = known[0]
        for key, hit in memo.trackers.items():
            if hit is not None and hit[0] == known[0]:
                memo.trackers[key] = (known[0], email)
        timeline.add(conn, store_id, known[0], now, "entity-identified", {"email": email})
        outbox.emit(
            conn, store_id, "contact.identified", now, {"contactId": known[0], "email": email}
        )
        return Identity(contact_id=known[0], tracker_id=tracker, email=email, identified=True)
    cid = _new_contact(conn, store_id, email, now, fields)
    _point_tracker(conn, store_id, tracker, cid, email, now, exists=known is not None)
    return Identity(contact_id=cid, tracker_id=tracker, email=email, created=True)


def next_step(known: tuple[str, str | None] | None, owner: str | None, email: str | None) -> str:
    """What a request does to identity, from its tracker's contact and that contact's e-mail
    (`known`, None: an unknown tracker), the contact that has the request's e-mail (`owner`)
    and the e-mail (None: none given):

    - `known`: no e-mail, a known tracker: its contact;
    - `new-anonymous`: no e-mail, an unknown tracker: a new anonymous contact;
    - `owner`: an unknown tracker with the e-mail of a contact: that contact, the tracker
      now pointing to it;
    - `same`: the tracker's contact has the e-mail;
    - `merge`: the tracker's anonymous contact is merged into the e-mail's contact;
    - `owner-repoint`: the tracker of a contact with another e-mail (a shared device) now
      points to the e-mail's contact; nothing is merged;
    - `identify`: the tracker's anonymous contact takes the e-mail no contact has;
    - `new-identified`: a new contact with the e-mail (no contact has it, and the tracker's
      contact, if any, has another)."""
    if email is None:
        return "known" if known is not None else "new-anonymous"
    if owner is not None:
        if known is None:
            return "owner"
        if known[0] == owner:
            return "same"
        return "merge" if known[1] is None else "owner-repoint"
    if known is not None and known[1] is None:
        return "identify"
    return "new-identified"


def contact_for_email(conn: Conn, store_id: str, email: str, now: int) -> tuple[str, bool]:
    """The contact with this e-mail, created (identified, with no tracker) if missing."""
    cid = _contact_by_email(conn, store_id, email)
    if cid is not None:
        return cid, False
    return _new_contact(conn, store_id, email, now), True


# --- merges -------------------------------------------------------------------------------

_MOVED_TABLES = ("events", "activities", "carts", "purchases", "visits")


def merge(
    conn: Conn, store_id: str, source: str, target: str, now: int, request_id: int | None
) -> int:
    """Move everything of `source` (anonymous) into `target`; record it; give the merge id."""
    _forget(conn)
    carts.forget(conn)
    moved: dict[str, Any] = {}
    for table in _MOVED_TABLES:
        ids = [r[0] for r in conn.all(f"SELECT id FROM {table} WHERE contact_id = ?", (source,))]
        moved[table] = ids
        conn.execute(f"UPDATE {table} SET contact_id = ? WHERE contact_id = ?", (target, source))
    moved["trackers"] = [
        r[0] for r in conn.all("SELECT tracker_id FROM trackers WHERE contact_id = ?", (source,))
    ]
    conn.execute("UPDATE trackers SET contact_id = ? WHERE contact_id = ?", (target, source))
    src_fields = loads(conn.scalar("SELECT fields FROM contacts WHERE id = ?", (source,))) or {}
    tgt_fields = loads(conn.scalar("SELECT fields FROM contacts WHERE id = ?", (target,))) or {}
    moved["target_fields"] = tgt_fields
    merged_fields = {**src_fields, **tgt_fields}
    conn.execute(
        "UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ?",
        (dumps(merged_fields), now, target),
    )
    conn.execute(
        "UPDATE contacts SET merged_into = ?, updated_at = ? WHERE id = ?", (target, now, source)
    )
    merge_id = conn.insert_id(
        "INSERT INTO merges (store_id, from_contact, into_contact, request_id, at, moved) VALUES (?, ?, ?, ?, ?, ?)",
        (store_id, source, target, request_id, now, dumps(moved)),
    )
    recompute_aggregates(conn, target)
    recompute_aggregates(conn, source)
    timeline.add(
        conn,
        store_id,
        target,
        now,
        "entity-merged",
        {"mergedContactId": source, "mergeId": merge_id},
    )
    outbox.emit(
        conn,
        store_id,
        "contact.merged",
        now,
        {"contactId": target, "mergedContactId": source, "mergeId": merge_id},
    )
    return merge_id


def unmerge(conn: Conn, store_id: str, merge_id: int, now: int) -> bool:
    """Undo a merge: what moved goes back, the anonymous contact lives again."""
    _forget(conn)
    carts.forget(conn)
    row = conn.one(
        "SELECT from_contact, into_contact, moved, undone_at FROM merges WHERE id = ? AND store_id = ?",
        (merge_id, store_id),
    )
    if row is None or row[3] is not None:
        return False
    source, target, moved = row[0], row[1], loads(row[2])
    for table in _MOVED_TABLES:
        ids = moved.get(table) or []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            conn.execute(
                f"UPDATE {table} SET contact_id = ? WHERE contact_id = ? AND id IN ({marks})",
                (source, target, *chunk),
            )
    for tracker in moved.get("trackers") or []:
        conn.execute(
            "UPDATE trackers SET contact_id = ? WHERE store_id = ? AND tracker_id = ?",
            (source, store_id, tracker),
        )
    conn.execute(
        "UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ?",
        (dumps(moved.get("target_fields") or {}), now, target),
    )
    conn.execute(
        "UPDATE contacts SET merged_into = NULL, updated_at = ? WHERE id = ?", (now, source)
    )
    conn.execute("UPDATE merges SET undone_at = ? WHERE id = ?", (now, merge_id))
    recompute_aggregates(conn, target)
    recompute_aggregates(conn, source)
    return True


def recompute_aggregates(conn: Conn, contact_id: str) -> None:
    """Purchase aggregates from counted purchases only (the ledger's first record of each),
    summed exactly in Python (a BIGINT sum could overflow)."""
    _known(conn).totals.pop(contact_id, None)
    count, first, last = conn.one(
        "SELECT COUNT(*), MIN(purchased_at), MAX(purchased_at) FROM purchases WHERE contact_id = ?",
        (contact_id,),
    )
    total = sum(
        int(r[0])
        for r in conn.all("SELECT total_price FROM purchases WHERE contact_id = ?", (contact_id,))
    )
    conn.execute(
        "UPDATE contacts SET total_purchases = ?, total_amount = ?, first_purchase_at = ?, last_purchase_at = ? WHERE id = ?",
        (int(count), amount_text(total), first, last, contact_id),
    )


def amount_text(millionths: int) -> str:
    """The stored form of an aggregate amount: an exact decimal text of currency units."""
    return str(money_from_db(millionths))


def add_purchase(
    conn: Conn, contact_id: str, total_millionths: int, purchased_at: int, now: int
) -> None:
    """Count one more purchase in the contact's aggregates."""
    pending = conn.tx_memo.get(_NEW_CONTACTS)
    if pending is not None and contact_id in pending:  # created in this transaction, unwritten
        c = pending[contact_id]
        c.total_purchases += 1
        c.total_amount += money_from_db(total_millionths) or Decimal(0)
        if c.first_purchase_at is None or c.first_purchase_at > purchased_at:
            c.first_purchase_at = purchased_at
        if c.last_purchase_at is None or c.last_purchase_at < purchased_at:
            c.last_purchase_at = purchased_at
        c.updated_at = now
        _known(conn).totals[contact_id] = c.total_amount
        return
    known = _known(conn)
    current = known.totals.get(contact_id)
    if current is None:
        stored = conn.scalar("SELECT total_amount FROM contacts WHERE id = ?", (contact_id,))
        current = Decimal(str(stored or "0"))
    total = current + (money_from_db(total_millionths) or Decimal(0))
    known.totals[contact_id] = total
    conn.execute(
        "UPDATE contacts SET total_purchases = total_purchases + 1, total_amount = ?, "
        "first_purchase_at = CASE WHEN first_purchase_at IS NULL OR first_purchase_at > ? THEN ? ELSE first_purchase_at END, "
        "last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < ? THEN ? ELSE last_purchase_at END, "
        "updated_at = ? WHERE id = ?",
        (str(total), purchased_at, purchased_at, purchased_at, purchased_at, now, contact_id),
    )


def update_fields(conn: Conn, contact_id: str, fields: dict[str, Any], now: int) -> bool:
    """Merge given contact fields into the contact; True if something changed."""
    if not fields:
        return False
    current = loads(conn.scalar("SELECT fields FROM contacts WHERE id = ?", (contact_id,))) or {}
    updated = {**current, **fields}
    if updated == current:
        return False
    conn.execute(
        "UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ?",
        (dumps(updated), now, contact_id),
    )
    return True
