"""The sources report: visits, carts and revenue by traffic source and device, with first
and last touch (rules in `domain.attribution`, described in docs/reports.md).

Purchases count as in the revenue report (on the local day of their purchase date, each
converted on its own to the reporting currency at its day's rate, refunds and cancellations
on their own day, converted cumulatively), so the totals are the revenue report's totals.
A purchase's touches are read from its contact's visits received up to the purchase: the
first visit's source (first touch) and the last source that is not direct (last touch).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from shopevents.domain.attribution import NOT_A_TOUCH, UNATTRIBUTED, first_touch
from shopevents.reports import figures, rates
from shopevents.reports.timebuckets import SLOT_US, Range
from shopevents.storage import attribution_facts as facts
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

UNKNOWN_DEVICE = "unknown"


class _Visits:
    """Visits by id, read in chunks."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.rows: dict[int, facts.Visit] = {}

    def load(self, ids: set[int]) -> None:
        wanted = sorted(i for i in ids if i is not None and i not in self.rows)
        self.rows.update(facts.visits(self.conn, wanted))


class _Attribution:
    """A purchase's or cart's first touch, last touch (with its campaign) and device."""

    __slots__ = ("campaign", "device", "first", "last")

    def __init__(self, visits: _Visits, touches: facts.Touches) -> None:
        first_id, latest_id, touch_id = touches
        if first_id is None:
            self.first = self.last = UNATTRIBUTED
            self.device = UNKNOWN_DEVICE
            self.campaign: tuple[str, str, str, str] | None = None
            return
        first = visits.rows[first_id]
        assert latest_id is not None  # there is a latest visit when there is a first one
        latest = visits.rows[latest_id]
        self.first = first_touch([first[0]])
        self.device = latest[4] or UNKNOWN_DEVICE
        if touch_id is None:
            self.last = "direct"
            self.campaign = None
            return
        touch = visits.rows[touch_id]
        self.last = touch[0]
        self.campaign = (
            (touch[0], touch[1] or "", touch[2] or "", touch[3] or "")
            if touch[0] in ("campaign", "email") and (touch[2] or touch[3])
            else None
        )


def sources(
    conn: Conn, store: StoreRecord, rng: Range, currency: str | None = None
) -> dict[str, Any]:
    """Visits by source and device; carts created and revenue (gross, refunded, net) by first
    touch, last touch, device and last-touch campaign. Without `currency`, amounts are in the
    store's reporting currency (as the revenue report converts them); with it, only
    purchases in that currency, unconverted."""
    converting = currency is None
    currency = (currency or store.reporting).upper()
    sid = store.id
    days: dict[int, int] = {}

    def day_of(at: int) -> int:
        slot = int(at) // SLOT_US
        hit = days.get(slot)
        if hit is None:
            hit = days[slot] = rng.slot_day(slot)
        return hit

    bought = facts.bought(conn, sid, rng.start_us, rng.end_us, NOT_A_TOUCH)
    adjusted = facts.adjusted(conn, sid, rng.start_us, rng.end_us, NOT_A_TOUCH)
    started = facts.started(conn, sid, rng.start_us, rng.end_us, NOT_A_TOUCH)
    seen = facts.seen(conn, sid, rng.start_us, rng.end_us)

    visits = _Visits(conn)
    touched = [r.touches for r in bought] + [r.touches for r in adjusted]
    touched += [r.touches for r in started]
    visits.load({i for touches in touched for i in touches if i is not None})

    def attribution(row: facts.BoughtRow | facts.AdjustedRow | facts.StartedRow) -> _Attribution:
        return _Attribution(visits, row.touches)

    # -- money, converted as the revenue report converts it -----------------------------------
    foreign = (
        {r.currency for r in bought if r.currency != currency}
        | {r.currency for r in adjusted if r.currency != currency}
        if converting
        else set()
    )
    table = None
    if foreign:
        first_day = min([rng.first_ord] + [day_of(r.purchased_at) for r in adjusted])
        table = rates.Table(conn, {*foreign, currency}, first_day, rng.last_ord)
    total = figures.empty()
    by_first: dict[str, list[int]] = defaultdict(figures.empty)
    by_last: dict[str, list[int]] = defaultdict(figures.empty)
    by_device: dict[str, list[int]] = defaultdict(figures.empty)
    by_campaign: dict[tuple[str, str, str, str], list[int]] = defaultdict(figures.empty)
    others: dict[str, list[int]] = defaultdict(figures.empty)
    missing: set[tuple[int, str]] = set()

    def count(a: _Attribution, vals: list[int]) -> None:
        figures.add(total, vals)
        figures.add(by_first[a.first], vals)
        figures.add(by_last[a.last], vals)
        figures.add(by_device[a.device], vals)
        if a.campaign is not None:
            figures.add(by_campaign[a.campaign], vals)

    for row in bought:
        at, cur, price = row.purchased_at, row.currency, row.total
        if cur != currency:
            if not converting:
                figures.add(others[cur], [1, price, 0, 0, 0, 0])
                continue
            assert table is not None
            value = rates.convert(price, cur, currency, table, day_of(at))
            if value is None:
                missing.add((day_of(at), cur))
                figures.add(others[cur], [1, price, 0, 0, 0, 0])
                continue
            price = value
        count(attribution(row), [1, price, 0, 0, 0, 0])
    for adj in adjusted:
        pat, cur, kind, amount, before = (
            adj.purchased_at,
            adj.currency,
            adj.kind,
            adj.amount,
            adj.prior,
        )
        if cur != currency:
            if not converting:
                figures.add(others[cur], figures.adjustment(kind, 1, amount))
                continue
            assert table is not None
            upto = rates.convert(before + amount, cur, currency, table, day_of(pat))
            prior = rates.convert(before, cur, currency, table, day_of(pat)) if before else 0
            if upto is None or prior is None:
                missing.add((day_of(pat), cur))
                figures.add(others[cur], figures.adjustment(kind, 1, amount))
                continue
            amount = upto - prior
        count(attribution(adj), figures.adjustment(kind, 1, amount))

    # -- carts created, visits ----------------------------------------------------------------
    carts_first: dict[str, int] = defaultdict(int)
    carts_last: dict[str, int] = defaultdict(int)
    carts_device: dict[str, int] = defaultdict(int)
    for started_row in started:
        a = attribution(started_row)
        carts_first[a.first] += 1
        carts_last[a.last] += 1
        carts_device[a.device] += 1
    visits_by_source: dict[str, int] = defaultdict(int)
    visits_by_device: dict[str, int] = defaultdict(int)
    for source, device, n in seen:
        visits_by_source[str(source)] += int(n)
        visits_by_device[str(device) or UNKNOWN_DEVICE] += int(n)

    def ranked(
        key: str, money_by: dict[str, list[int]], carts_by: dict[str, int]
    ) -> list[dict[str, Any]]:
        keys = set(money_by) | set(carts_by)
        rows = [
            {
                key: k,
                **figures.summary(money_by.get(k) or figures.empty()),
                "carts": carts_by.get(k, 0),
            }
            for k in keys
        ]
        rows.sort(key=lambda r: (-r["grossRevenue"], -r["orders"], -r["carts"], r[key]))
        return rows

    def counted(key: str, d: dict[str, int]) -> list[dict[str, Any]]:
        return [{key: k, "visits": n} for k, n in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))]

    campaigns = [
        {
            "source": k[0],
            "name": k[1] or None,
            "medium": k[2] or None,
            "campaign": k[3] or None,
            **figures.summary(v),
        }
        for k, v in sorted(by_campaign.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    ]
    return {
        "store": {
            "id": store.id,
            "name": store.name,
            "currency": store.currency,
            "timezone": store.timezone,
        },
        "from": rng.first.isoformat(),
        "to": rng.last.isoformat(),
        "currency": currency,
        "totals": {
            **figures.summary(total),
            "carts": len(started),
            "visits": sum(visits_by_source.values()),
        },
        "firstTouch": ranked("source", by_first, carts_first),
        "lastTouch": ranked("source", by_last, carts_last),
        "devices": ranked("device", by_device, carts_device),
        "campaigns": campaigns,
        "visits": counted("source", visits_by_source),
        "visitsByDevice": counted("device", visits_by_device),
        "otherCurrencies": [
            {"currency": c, **figures.summary(v)} for c, v in sorted(others.items())
        ],
        "missingRates": [
            {"date": date.fromordinal(d).isoformat(), "currency": c} for d, c in sorted(missing)
        ],
    }
