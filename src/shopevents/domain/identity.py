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
from shopevents.jsoncodec import dumps
from shopevents.storage import contacts, merges, visits
from shopevents.storage.codec import money_from_db
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

    trackers: dict[tuple[str, str], tuple[str, str | None] | None] = {}
    emails: dict[tuple[str, str], str | None] = {}
    totals: dict[str, Decimal] = {}


def _known(conn: Conn) -> _Known:
    return conn.memo(_Known)


def _forget(conn: Conn) -> None:
    conn.forget_memo(_Known)


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


class _NewContacts(msgspec.Struct):
    """The transaction's memo: the contacts it created, written just before COMMIT."""

    rows: dict[str, contacts.NewContact] = {}


def _write_new_contacts(conn: Conn) -> None:
    """Composes the rows of the contacts created in the transaction (`Conn.defer`): just
    before COMMIT, or before any statement that names `contacts`. Their purchases were
    counted in memory instead of with an UPDATE each."""
    pending = conn.forget_memo(_NewContacts)
    for cid, c in pending.rows.items() if pending else ():
        contacts.append(conn, cid, c)


def without_nul(value: Any) -> Any:
    """`value` (contact fields: names, texts, lists and objects of them) with its NUL (U+0000)
    characters removed, as from every ingested text: PostgreSQL's JSON cannot read them."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def _new_contact(
    conn: Conn, store_id: str, email: str | None, now: int, fields: dict[str, Any] | None = None
) -> str:
    cid = new_id(now)
    row = contacts.NewContact(store_id, email, dumps(without_nul(fields or {})), now, now)
    if conn.in_tx:
        pending = conn.memo_if_any(_NewContacts)
        if pending is None:
            pending = conn.memo(_NewContacts)
            conn.defer("contacts", _write_new_contacts)
        pending.rows[cid] = row
    else:
        contacts.append(conn, cid, row)
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
    contacts.point_tracker(conn, store_id, tracker_id, contact_id, now, exists)


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


def by_email(
    conn: Conn,
    store_id: str,
    email: str,
    now: int,
    request_id: int | None = None,
    fields: dict[str, Any] | None = None,
) -> Identity:
    """Who a server-side request (a REST purchase, a custom post) names by e-mail alone: the
    contact with this e-mail and the tracker it was seen with last; a contact without one,
    or a new contact, gets a new tracker (`resolve`'s rules otherwise)."""
    hit = contacts.with_last_tracker(conn, store_id, email)
    minted = hit.tracker_id if hit is not None else None
    return resolve(conn, store_id, None, email, now, request_id, fields, minted=minted)


def contact_for_email(conn: Conn, store_id: str, email: str, now: int) -> tuple[str, bool]:
    """The contact with this e-mail, created (identified, with no tracker) if missing."""
    cid = _contact_by_email(conn, store_id, email)
    if cid is not None:
        return cid, False
    return _new_contact(conn, store_id, email, now), True


# --- merges -------------------------------------------------------------------------------


def merge(
    conn: Conn, store_id: str, source: str, target: str, now: int, request_id: int | None
) -> int:
    """Move everything of `source` (anonymous) into `target`; record it; give the merge id."""
    _forget(conn)
    carts.forget(conn)
    moved: dict[str, Any] = merges.move_all(conn, source, target)
    src_fields = contacts.fields_of(conn, source)
    tgt_fields = contacts.fields_of(conn, target)
    moved["target_fields"] = tgt_fields
    contacts.set_fields(conn, target, {**src_fields, **tgt_fields}, now)
    merges.set_merged_into(conn, source, target, now)
    merge_id = merges.record(conn, store_id, source, target, request_id, now, moved)
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
    row = merges.one(conn, store_id, merge_id)
    if row is None or row.undone_at is not None:
        return False
    source, target = row.from_contact, row.into_contact
    merges.move_back(conn, store_id, source, target, row.moved)
    contacts.set_fields(conn, target, row.moved.get("target_fields") or {}, now)
    merges.set_merged_into(conn, source, None, now)
    merges.mark_undone(conn, merge_id, now)
    recompute_aggregates(conn, target)
    recompute_aggregates(conn, source)
    return True


def recompute_aggregates(conn: Conn, contact_id: str) -> None:
    """Purchase aggregates from counted purchases only (the ledger's first record of each),
    summed exactly in Python (a BIGINT sum could overflow)."""
    _known(conn).totals.pop(contact_id, None)
    sums = contacts.purchase_sums(conn, contact_id)
    contacts.set_aggregates(
        conn, contact_id, sums.count, amount_text(sum(sums.totals)), sums.first_at, sums.last_at
    )


def amount_text(millionths: int) -> str:
    """The stored form of an aggregate amount: an exact decimal text of currency units."""
    return str(money_from_db(millionths))


def add_purchase(
    conn: Conn, contact_id: str, total_millionths: int, purchased_at: int, now: int
) -> None:
    """Count one more purchase in the contact's aggregates."""
    pending = conn.memo_if_any(_NewContacts)
    if pending is not None and contact_id in pending.rows:  # created in the transaction, unwritten
        c = pending.rows[contact_id]
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
        current = contacts.total_amount(conn, contact_id)
    total = current + (money_from_db(total_millionths) or Decimal(0))
    known.totals[contact_id] = total
    contacts.count_purchase(conn, contact_id, total, purchased_at, now)


def update_fields(conn: Conn, contact_id: str, fields: dict[str, Any], now: int) -> bool:
    """Merge given contact fields into the contact; True if something changed."""
    if not fields:
        return False
    current = contacts.fields_of(conn, contact_id)
    updated = {**current, **without_nul(fields)}
    if updated == current:
        return False
    contacts.set_fields(conn, contact_id, updated, now)
    return True
