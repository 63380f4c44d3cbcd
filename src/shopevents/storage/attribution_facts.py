"""What the sources report reads: purchases, adjustments and new carts of a range, each with
the ids of its contact's visits up to it (the first, the latest, and the latest that is a
touch), the visits themselves by id, and visits by source and device. Rows of bots'
requests their store leaves out are left out (docs/privacy.md#bots)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from shopevents.storage.database import Conn
from shopevents.storage.report_facts import human


class Touches(NamedTuple):
    """Ids of a contact's visits up to an instant (None: no such visit)."""

    first: int | None
    latest: int | None
    touch: int | None  # the latest whose source is a touch


class BoughtRow(NamedTuple):
    purchased_at: int
    currency: str
    total: int
    touches: Touches


class AdjustedRow(NamedTuple):
    purchased_at: int
    currency: str
    kind: str
    amount: int
    prior: int  # the purchase's adjustments before this one
    touches: Touches


class StartedRow(NamedTuple):
    at: int
    touches: Touches


class Visit(NamedTuple):
    source: str
    name: str | None
    medium: str | None
    campaign: str | None
    device: str | None


class SeenRow(NamedTuple):
    source: str
    device: str  # '' when unknown
    n: int


def _touches(contact: str, upto: str, not_touch: Collection[str]) -> str:
    """SQL: the three visit ids of `contact` up to `upto` (an instant)."""
    excluded = ", ".join(f"'{s}'" for s in sorted(not_touch))
    return (
        f"(SELECT v.id FROM visits v WHERE v.contact_id = {contact} AND v.at <= {upto} "
        "ORDER BY v.at, v.id LIMIT 1), "
        f"(SELECT v.id FROM visits v WHERE v.contact_id = {contact} AND v.at <= {upto} "
        "ORDER BY v.at DESC, v.id DESC LIMIT 1), "
        f"(SELECT v.id FROM visits v WHERE v.contact_id = {contact} AND v.at <= {upto} "
        f"AND v.source NOT IN ({excluded}) ORDER BY v.at DESC, v.id DESC LIMIT 1)"
    )


def _id(value: Any) -> int | None:
    return None if value is None else int(value)


def _ids(row: Any) -> Touches:
    return Touches(_id(row[-3]), _id(row[-2]), _id(row[-1]))


def bought(
    conn: Conn, store_id: str, start: int, end: int, not_touch: Collection[str]
) -> list[BoughtRow]:
    """The store's purchases dated in the range, with their contacts' visits up to their
    receipt."""
    return [
        BoughtRow(int(r[0]), str(r[1]), int(r[2]), _ids(r))
        for r in conn.all(
            "SELECT p.purchased_at, p.currency, p.total_price, "
            + _touches("p.contact_id", "p.received_at", not_touch)
            + " FROM purchases p WHERE p.store_id = ? AND p.purchased_at >= ? AND p.purchased_at < ? "
            f"AND {human('p.request_id')}",
            (store_id, start, end),
        )
    ]


def adjusted(
    conn: Conn, store_id: str, start: int, end: int, not_touch: Collection[str]
) -> list[AdjustedRow]:
    """The store's refunds and cancellations made in the range, each with its purchase's
    adjustments before it and its contact's visits up to the purchase's receipt."""
    return [
        AdjustedRow(int(r[0]), str(r[1]), r[2], int(r[3]), int(r[4]), _ids(r))
        for r in conn.all(
            "SELECT a.purchased_at, a.currency, a.kind, a.amount, a.prior, "
            + _touches("p.contact_id", "p.received_at", not_touch)
            + " FROM (SELECT purchase_row, purchased_at, currency, kind, amount, adjusted_at, "
            "COALESCE(SUM(amount) OVER (PARTITION BY purchase_row ORDER BY id ROWS BETWEEN "
            "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior FROM purchase_adjustments "
            "WHERE store_id = ? AND purchase_row IN (SELECT purchase_row FROM purchase_adjustments "
            "WHERE store_id = ? AND adjusted_at >= ? AND adjusted_at < ?)) a "
            "JOIN purchases p ON p.id = a.purchase_row "
            "WHERE a.adjusted_at >= ? AND a.adjusted_at < ? "
            f"AND {human('p.request_id')}",
            (store_id, store_id, start, end, start, end),
        )
    ]


def started(
    conn: Conn, store_id: str, start: int, end: int, not_touch: Collection[str]
) -> list[StartedRow]:
    """The store's carts created in the range, with their contacts' visits up to then."""
    return [
        StartedRow(int(r[0]), _ids(r))
        for r in conn.all(
            "SELECT t.at, "
            + _touches("c.contact_id", "t.at", not_touch)
            + " FROM cart_transitions t JOIN carts c ON c.id = t.cart_row "
            "WHERE t.store_id = ? AND t.at >= ? AND t.at < ? AND t.from_state IS NULL "
            f"AND {human('t.request_id')}",
            (store_id, start, end),
        )
    ]


def seen(conn: Conn, store_id: str, start: int, end: int) -> list[SeenRow]:
    """The store's visits in the range by source and device."""
    return [
        SeenRow(str(r[0]), str(r[1]), int(r[2]))
        for r in conn.all(
            "SELECT source, COALESCE(device, ''), COUNT(*) FROM visits "
            "WHERE store_id = ? AND at >= ? AND at < ? AND NOT EXISTS (SELECT 1 FROM events e "
            "JOIN bot_requests b ON b.id = e.request_id AND b.kept = 0 WHERE e.id = visits.event_id) "
            "GROUP BY source, device",
            (store_id, start, end),
        )
    ]


def visits(conn: Conn, ids: list[int]) -> dict[int, Visit]:
    """Visits by id."""
    out: dict[int, Visit] = {}
    for k in range(0, len(ids), 500):
        test, params = conn.any_of(ids[k : k + 500])
        for row in conn.all(
            f"SELECT id, source, name, medium, campaign, device FROM visits WHERE id {test}",
            params,
        ):
            out[int(row[0])] = Visit._make(row[1:])
    return out
