"""The intake transaction: everything one request changes, written before it is answered.

`prepare` decodes outside the transaction (pure, per event); `apply` runs inside it:
raw request, identity, contact, events, quarantine, catalog, purchase ledger, cart state
and its abandonment deadline, timeline and outbox rows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import msgspec

from shopevents.domain import bots, carts, catalog, erasure, identity, purchases, timeline
from shopevents.domain.attribution import visit_columns
from shopevents.errors import ApiError
from shopevents.ingest import adjustment_events
from shopevents.jsoncodec import dumpb, dumps, loads, plain
from shopevents.schema import models as m
from shopevents.schema.verdicts import (
    CheckContext,
    EntityInfo,
    Verdict,
    decode_cart,
    decode_entity,
    decode_event,
    needs_lenient,
)
from shopevents.storage import requests, visits
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


class Prepared(msgspec.Struct, kw_only=True):
    """A request decoded and judged, ready for the transaction."""

    store: StoreRecord
    channel: str  # browser | api | replay
    body: bytes
    origin: str | None = None
    request_key: str | None = None
    events: list[Verdict] = []
    cart: Verdict | None = None
    entity: Verdict | None = None
    url: str | None = None
    title: str | None = None
    # The e-mail an event of the request names (a form's primary key field, else a
    # newsletter sign-up's `email`): it identifies the contact, before entityInfo.primaryKey.
    email: str | None = None
    # A cart that can only be made inside the transaction (Segment's cart changes applied to
    # the contact's active cart): (conn, store id, contact id) -> the cart's verdict.
    cart_of: Any = None
    # The page visit's source, device and compact page/browser info (`visits.record`), when
    # the request has an accepted page-visit.
    visit: tuple[Any, ...] | None = None
    # Why the request is a bot's (`bots.reason` of its User-Agent), or None.
    bot: str | None = None
    # Cluster mode: set by the collector that accepted the request. Its id (stored as the
    # request row's `intake_id`, which makes applying it twice a no-op), the tracker it
    # minted for a request that names none, and its verdicts on the request's accepted
    # purchase events by event index (`accepted` | `duplicate` | `conflict`).
    intake_id: str | None = None
    tracker_id: str | None = None
    decided: dict[int, str] | None = None
    # A server-side request (a REST purchase, a custom post): it names its contact by
    # `email` alone (`identity.by_email`), or has none without an e-mail; it is no browser,
    # so it neither flags nor clears a bot.
    server_side: bool = False
    # What the channel adds to the answer before it is stored: (conn, answer, contact id,
    # whether the contact was created) -> None; a custom post's `customEvent`.
    annotate: Any = None


def within_limit(envelope: m.Envelope, max_events: int) -> None:
    """A request holds at most `max_events` events: ApiError `too_many_events` otherwise
    (the whole request is refused, before anything is judged)."""
    if len(envelope.events) > max_events:
        raise ApiError(
            "too_many_events",
            f"The request holds {len(envelope.events)} events; the limit is {max_events}",
        )


def prepare(
    store: StoreRecord,
    envelope: m.Envelope,
    body: bytes,
    *,
    ctx: CheckContext,
    max_event_bytes: int,
    channel: str = "browser",
    origin: str | None = None,
    bot: str | None = None,
    details: bool = True,
) -> Prepared:
    """The request decoded and judged: every verdict of its answer. `details`: also what
    only applying it needs (the page's URL and title, a page-visit's visit columns); a
    cluster collector, which answers without applying, leaves them out."""
    scan = needs_lenient(body)  # none in the body: none in any part
    events = [
        decode_event(bytes(raw), i, ctx, max_event_bytes, scan=scan)
        for i, raw in enumerate(envelope.events)
    ]
    cart = decode_cart(bytes(envelope.cart), ctx, scan=scan) if len(envelope.cart) else None
    entity = decode_entity(bytes(envelope.entityInfo), ctx) if len(envelope.entityInfo) else None
    url = title = visit = None
    if details and (len(envelope.browserInfo) or len(envelope.pageInfo)):
        url, title = _page(envelope)
    if details and any(v.type == "page-visit" and v.status == "accepted" for v in events):
        visit = visit_columns(bytes(envelope.pageInfo), bytes(envelope.browserInfo), store.domains)
    return Prepared(
        store=store,
        channel=channel,
        body=body,
        origin=origin,
        request_key=envelope.requestId,
        events=events,
        cart=cart,
        entity=entity,
        url=url,
        title=title,
        visit=visit,
        email=event_email(events),
        bot=bot,
    )


def event_email(events: list[Verdict]) -> str | None:
    """The e-mail that identifies the request's contact from its events: the primary key
    field of a submitted form (as Connectif's script puts it in `primaryKey`), else the
    e-mail of a newsletter sign-up; the first such event wins."""
    found = None
    for v in events:
        if v.status != "accepted":
            continue
        ev, extra = v.value
        if isinstance(extra, str):
            if isinstance(ev, m.FormSubmitted):
                return extra
            if found is None and isinstance(ev, m.NewsletterSubscribe):
                found = extra
    return found


def _subscribes(req: Prepared) -> bool:
    return any(
        v.status == "accepted" and isinstance(v.value[0], m.NewsletterSubscribe) for v in req.events
    )


class _Url(msgspec.Struct):
    url: Any = None


class _Title(msgspec.Struct):
    title: Any = None


_url_decoder = msgspec.json.Decoder(_Url | None)
_title_decoder = msgspec.json.Decoder(_Title | None)


def _page(envelope: m.Envelope) -> tuple[str | None, str | None]:
    """The page's URL (browserInfo.url, percent-decoded) and title (pageInfo.title), each
    if given as text; anything else in the two objects is not read here."""
    url = title = None
    try:
        info = _url_decoder.decode(envelope.browserInfo) if len(envelope.browserInfo) else None
        if info is not None and isinstance(info.url, str):
            url = (unquote(info.url) if "%" in info.url else info.url)[:2000]
    except msgspec.DecodeError:
        pass
    try:
        page = _title_decoder.decode(envelope.pageInfo) if len(envelope.pageInfo) else None
        if page is not None and isinstance(page.title, str):
            title = page.title[:200]
    except msgspec.DecodeError:
        pass
    return url, title


class _Keyed(msgspec.Struct):
    """Request keys the transaction knows: stored or queued (with their answer), or known
    not to be stored."""

    responses: dict[tuple[str, str], str] = {}
    absent: set[tuple[str, str]] = set()
    # The same for intake ids (cluster mode): a request already applied, with its answer.
    applied: dict[tuple[str, str], str] = {}
    unapplied: set[tuple[str, str]] = set()


def _keyed(conn: Conn) -> _Keyed:
    return conn.memo(_Keyed)


def _fields(req: Prepared) -> Any:
    entity: EntityInfo | None = (
        req.entity.value if req.entity and req.entity.status == "accepted" else None
    )
    return entity.fields if entity else None


def warm(conn: Conn, batch: list[Prepared]) -> None:
    """Before the requests of one transaction run: their request keys, purchaseIds, trackers
    (given or minted by a collector) and e-mails, then the carts of the contacts found, each
    in one round trip per store."""
    trackers: dict[str, list[str]] = {}
    emails: dict[str, list[str]] = {}
    request_keys: dict[str, list[str]] = {}
    intake_ids: dict[str, list[str]] = {}
    purchase_ids: dict[str, list[str]] = {}
    with_carts: set[str] = set()
    for req in batch:
        if req.request_key:
            request_keys.setdefault(req.store.id, []).append(req.request_key)
        if req.intake_id:
            intake_ids.setdefault(req.store.id, []).append(req.intake_id)
        for v in req.events:
            if v.status == "accepted" and isinstance(v.value[0], m.PurchaseEvent):
                purchase_ids.setdefault(req.store.id, []).append(v.value[0].purchase.purchaseId)
        fields = _fields(req)
        email = req.email or (fields.primaryKey if fields else None)
        tracker = (fields.trackerId if fields else None) or req.tracker_id
        if tracker is None and email is None:
            continue
        sid = req.store.id
        if tracker:
            trackers.setdefault(sid, []).append(tracker)
        if email is not None:
            emails.setdefault(sid, []).append(email)
        if req.cart is not None and req.cart.status == "accepted":
            with_carts.add(sid)
    keyed = _keyed(conn)
    _stored_responses(conn, "request_key", request_keys, keyed.responses, keyed.absent)
    _stored_responses(conn, "intake_id", intake_ids, keyed.applied, keyed.unapplied)
    for sid, ids in purchase_ids.items():
        purchases.prefetch(conn, sid, ids)
    for sid in trackers.keys() | emails.keys():
        identity.prefetch(conn, sid, trackers.get(sid, []), emails.get(sid, []))
        if sid in with_carts:
            contacts = identity.known_contacts(
                conn, sid, trackers.get(sid, []), emails.get(sid, [])
            )
            if contacts:
                carts.prefetch(conn, sid, contacts)


def _stored_responses(
    conn: Conn,
    column: str,
    wanted: dict[str, list[str]],
    found_into: dict[tuple[str, str], str],
    missing_into: set[tuple[str, str]],
) -> None:
    """The stored answers of the requests with these keys (`request_key` or `intake_id`), per
    store in one round trip; the keys not stored go into `missing_into`."""
    for sid, keys in wanted.items():
        found = requests.responses(conn, sid, column, keys)
        for k in keys:
            if k in found:
                found_into[(sid, k)] = found[k]
            else:
                missing_into.add((sid, k))


def _part_status(v: Verdict | None) -> dict[str, Any] | None:
    if v is None or v.status == "absent":
        return None
    out: dict[str, Any] = {"status": v.status, "warnings": v.warnings}
    if v.error:
        out.update(v.error)
    return out


def answer(
    prepared: Prepared, tracker_id: str, purchase_statuses: dict[int, str]
) -> dict[str, Any]:
    """The answer to a request from its verdicts alone: each event's result (an accepted
    purchase's status is its ledger verdict in `purchase_statuses`, by event index), the
    cart's and entityInfo's status. What only the transaction knows (the cart's `outcome`,
    an adjustment event's `adjustment`, an erased contact's refused identification) is not
    in it; `apply` adds it."""
    return _answer(prepared, tracker_id, purchase_statuses, prepared.cart)


def _answer(
    req: Prepared, tracker_id: str, purchase_statuses: dict[int, str], cart: Verdict | None
) -> dict[str, Any]:
    results = []
    for v in req.events:
        r = v.result()
        if v.status == "accepted" and isinstance(v.value[0], m.PurchaseEvent):
            r["status"] = purchase_statuses.get(v.index, "accepted")
        results.append(r)
    response: dict[str, Any] = {
        "trackerId": tracker_id,
        "banners": [],
        "webContents": [],
        "webModals": {},
        "results": results,
    }
    cart_status = _part_status(cart)
    if cart_status is not None:
        response["cart"] = cart_status
    ent_status = _part_status(req.entity)
    if ent_status is not None:
        response["entityInfo"] = ent_status
    return response


def _duplicate_of(stored: dict[str, Any], tracker_id: str) -> dict[str, Any]:
    for r in stored.get("results", []):
        if r.get("status") != "rejected":
            r["status"] = "duplicate"
    stored["trackerId"] = stored.get("trackerId") or tracker_id
    stored["duplicateRequest"] = True
    return stored


def replayed(stored: str | bytes) -> tuple[dict[str, Any], bytes]:
    """The answer to a request whose requestId was answered before, from that answer: each
    event not rejected then is a `duplicate` now, and `duplicateRequest` says why."""
    again = _duplicate_of(loads(stored), "")
    return again, dumpb(again)


def apply(
    conn: Conn, req: Prepared, now: int, recent: catalog.RecentWrites | None = None
) -> dict[str, Any]:
    """Run inside a write transaction. Give the response body."""
    return apply_encoded(conn, req, now, recent)[0]


def apply_encoded(
    conn: Conn, req: Prepared, now: int, recent: catalog.RecentWrites | None = None
) -> tuple[dict[str, Any], bytes]:
    """`apply`, with the response body also as the JSON stored with the request (encoded
    once, for the request row and for the answer). A bot's request (unless its store keeps
    bots) emits no outbox event."""
    if req.bot is None or req.store.keep_bots:
        return _apply_encoded(conn, req, now, recent)
    with bots.quiet(conn):
        return _apply_encoded(conn, req, now, recent)


def _apply_encoded(
    conn: Conn, req: Prepared, now: int, recent: catalog.RecentWrites | None = None
) -> tuple[dict[str, Any], bytes]:
    store = req.store
    sid = store.id
    keyed = _keyed(conn)
    if req.intake_id:  # applied before (a redelivery): nothing changes
        done = keyed.applied.get((sid, req.intake_id))
        if done is None and (sid, req.intake_id) not in keyed.unapplied:
            done = requests.response_written(conn, sid, "intake_id", req.intake_id)
        if done is not None:
            return loads(done), done.encode()
    if req.request_key:
        key = (sid, req.request_key)
        prior = keyed.responses.get(key)
        if prior is None and key not in keyed.absent:
            prior = requests.response_written(conn, sid, "request_key", req.request_key)
        if prior is not None:
            return replayed(prior)
    entity: EntityInfo | None = (
        req.entity.value if req.entity and req.entity.status == "accepted" else None
    )
    fields = entity.fields if entity else None
    request_id = conn.reserve_id("requests")
    changes: dict[str, Any] = {}
    if entity is not None and not (
        req.email and fields is not None and fields.primaryKey not in (None, req.email)
    ):  # entityInfo's fields describe its own contact, not the one an event names instead
        changes = {
            k: v for k, v in plain(entity.fields).items() if k not in ("primaryKey", "trackerId")
        }
        changes.update(entity.custom)
    if _subscribes(req):
        changes["_newsletterSubscriptionStatus"] = "subscribed"
    ident: identity.Identity | None
    if not req.server_side:
        ident = identity.resolve(
            conn,
            sid,
            fields.trackerId if fields else None,
            req.email or (fields.primaryKey if fields else None),
            now,
            request_id,
            changes,
            minted=req.tracker_id,
        )
    elif req.email is not None:
        ident = identity.by_email(conn, sid, req.email, now, request_id, changes)
    else:
        ident = None
    cid = ident.contact_id if ident is not None else None
    if (
        ident is not None
        and not req.server_side
        and (
            req.bot is not None
            or (not ident.created and (req.email or (fields is not None and fields.primaryKey)))
        )
    ):  # a bot's request, or a person's identification (it clears a contact's flag)
        bots.flag(conn, sid, request_id, req.bot, store.keep_bots, ident.contact_id, ident.created)
    if ident is not None and ident.created:
        carts.new_contact(conn, sid, ident.contact_id)
    if changes and ident is not None and not ident.created:
        identity.update_fields(conn, ident.contact_id, changes, now)

    purchase_statuses: dict[int, str] = {}
    adjusted: dict[int, Any] = {}  # position in the request's events → the adjustment made
    accepted = rejected = 0
    seen_products: list[m.Product] = []
    activities: list[timeline.Item] = []
    for pos, v in enumerate(req.events):
        if v.status == "rejected":
            rejected += 1
            requests.quarantine(
                conn,
                sid,
                request_id,
                v.index,
                v.type or "",
                v.error["code"] if v.error else "invalid_value",
                now,
                v.raw,
                dumps({"error": v.error, "warnings": v.warnings}),
            )
            continue
        ev, extra = v.value
        status = "accepted"
        data_extra: dict[str, Any] = {}
        if isinstance(ev, m.PurchaseEvent):
            status, _ = purchases.record(
                conn,
                sid,
                cid,
                ev.purchase,
                extra,
                channel=req.channel,
                request_id=request_id,
                now=now,
                store_currency=store.currency,
                contact_email=ident.email if ident is not None else None,
                decided=req.decided.get(v.index) if req.decided else None,
            )
            purchase_statuses[v.index] = status
            seen_products.extend(ev.purchase.products)
        elif isinstance(ev, m.ProductVisited | m.ProductSearched):
            seen_products.append(ev.product)
            data_extra = {
                "productId": ev.product.productId,
                "name": ev.product.name,
                "url": ev.product.productDetailUrl,
            }
        elif isinstance(ev, m.PageVisit):
            data_extra = {"url": req.url, "title": req.title}
        elif isinstance(ev, m.Search):
            data_extra = {"searchText": ev.searchText}
        elif isinstance(ev, m.NewsletterSubscribe):
            data_extra = {"email": extra or ev.email}
        elif isinstance(ev, m.ModalOpened):
            data_extra = {"modal": ev.modalOpened}
        elif isinstance(ev, m.ModalClosed):
            data_extra = {"modal": ev.modalClosed}
        elif isinstance(ev, m.WebContentOpened):
            data_extra = {
                "contentId": ev.contentId,
                "webContentTypeId": ev.webContentTypeId,
                "workflowDefinitionId": ev.workflowDefinitionId,
            }
        event_id = requests.append_event(
            conn,
            sid,
            request_id,
            v.index,
            v.type,
            status,
            now,
            cid,
            dumps(v.warnings) if v.warnings else None,
            dumps(ev),
        )
        if (
            req.visit is not None
            and cid is not None
            and status == "accepted"
            and isinstance(ev, m.PageVisit)
        ):
            visits.record(conn, sid, cid, event_id, now, *req.visit)
        activity = timeline.EVENT_ACTIVITY.get(v.type)
        if activity and status == "accepted" and v.type != "purchase":
            if isinstance(ev, m.Custom):
                data_extra = {"eventId": ev.eventId, "payload": ev.payload}
                if isinstance(extra, str):  # a custom post: its type's alias
                    data_extra = {"eventId": ev.eventId, "alias": extra, "payload": ev.payload}
            elif isinstance(ev, m.FormSubmitted):
                data_extra = {"formId": ev.formId, "payload": ev.payload}
                if ev.primaryKeyField:
                    data_extra["primaryKeyField"] = ev.primaryKeyField
            activities.append((activity, event_id, data_extra))
        accepted += status == "accepted"
        if isinstance(ev, m.Custom) and ev.eventId in adjustment_events.EVENT_IDS:
            adjusted[pos] = adjustment_events.apply(conn, sid, ev, now, req.channel)
    if cid is not None:
        timeline.add_many(conn, sid, cid, now, activities)

    cart_verdict = req.cart if req.cart_of is None or cid is None else req.cart_of(conn, sid, cid)
    outcome: str | None = None
    if cart_verdict is not None and cart_verdict.status == "accepted" and cid is not None:
        cart: m.Cart = cart_verdict.value
        seen_products.extend(cart.products)
        outcome = carts.apply_snapshot(
            conn,
            sid,
            cid,
            cart,
            now,
            store.abandon_after_seconds * 1_000_000,
            store.currency,
            request_id,
        )
        if req.bot is not None and not store.keep_bots:
            carts.never_abandon(conn, sid, cid, cart.cartId)
    elif cart_verdict is not None and cart_verdict.status == "rejected":
        requests.quarantine(
            conn,
            sid,
            request_id,
            -1,
            "cart",
            cart_verdict.error["code"] if cart_verdict.error else "invalid_value",
            now,
            cart_verdict.raw,
            dumps({"error": cart_verdict.error, "warnings": cart_verdict.warnings}),
        )
    if seen_products:
        catalog.upsert(conn, sid, seen_products, now, recent)

    tracker_id = ident.tracker_id if ident is not None else ""
    erased = ident is not None and ident.erased
    response = _answer(req, tracker_id, purchase_statuses, cart_verdict)
    for pos, adjustment in adjusted.items():
        response["results"][pos]["adjustment"] = adjustment
    if outcome is not None:
        response["cart"]["outcome"] = outcome
    ent_status = response.get("entityInfo")
    if erased and ent_status is not None and ent_status["status"] == "accepted":
        response["entityInfo"] = {
            **ent_status,
            "status": "rejected",
            **erasure.refused_identification(),
        }
    if req.annotate is not None:
        req.annotate(conn, response, cid, ident is not None and ident.created)
    encoded_bytes = dumpb(response)
    encoded = encoded_bytes.decode()
    row = requests.RequestRow(
        sid,
        now,
        req.channel,
        req.request_key or None,
        tracker_id or None,
        req.origin,
        b"" if erased else req.body,  # it names an erased contact: not kept
        encoded,
        cid,
        accepted,
        rejected,
    )
    requests.append(conn, request_id, row, req.intake_id)
    if req.request_key:
        keyed.responses[(sid, req.request_key)] = encoded
    if req.intake_id:
        keyed.applied[(sid, req.intake_id)] = encoded
    return response, encoded_bytes
