"""A store driven through the real intake transaction with a fixed clock, for domain tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from shopevents.clock import FixedClock, to_micros
from shopevents.ingest import intake
from shopevents.schema.verdicts import CheckContext, read_envelope
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from shopevents.worker.abandonment import mark_due_abandoned

if TYPE_CHECKING:
    from tests.natscluster import Rig


def product(pid: str, price: str = "10", **kw: Any) -> dict[str, Any]:
    return {
        "productId": pid,
        "name": f"Product {pid}",
        "productDetailUrl": f"https://shop.example/p/{pid}",
        "unitPrice": float(price),
        **kw,
    }


def line(pid: str, qty: int = 1, price: str = "10") -> dict[str, Any]:
    return {**product(pid, price), "quantity": qty, "price": float(price) * qty}


def cart(cart_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "cartId": cart_id,
        "totalQuantity": sum(ln["quantity"] for ln in lines),
        "totalPrice": round(sum(ln["price"] for ln in lines), 2),
        "products": list(lines),
    }


def purchase(
    pid: str, *lines: dict[str, Any], cart_id: str | None = None, total: float | None = None
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "purchaseId": pid,
        "totalQuantity": sum(ln["quantity"] for ln in lines),
        "totalPrice": total if total is not None else round(sum(ln["price"] for ln in lines), 2),
        "products": list(lines),
    }
    if cart_id is not None:
        p["cartId"] = cart_id
    return {"type": "purchase", "purchase": p}


def collector_view(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored answer without what only the transaction knows, as a collector answers."""
    view = msgspec.json.decode(msgspec.json.encode(stored))
    for r in view.get("results", []):
        r.pop("adjustment", None)
    if "cart" in view:
        view["cart"].pop("outcome", None)
    return view


class Shop:
    """A store. Its requests run through the real intake transaction, or, with a cluster-mode
    `rig`, through a collector's intake driver (alternating between two), the stream and the
    processors: `send` returns once the processors have applied the request, so what it
    changed can be read at once."""

    def __init__(
        self,
        db: Database,
        clock: FixedClock,
        *,
        abandon_after: int = 1800,
        name: str = "Shop",
        rig: Rig | None = None,
        conn: Conn | None = None,
    ) -> None:
        """`conn`: a connection of the test's (kept open by close()); else one of its own."""
        self.db = db
        self.clock = clock
        self.rig = rig
        self.owns_conn = conn is None
        self.conn: Conn = db.connect() if conn is None else conn
        with self.conn.transaction():
            self.store = stores.create_store(self.conn, name, now=to_micros(clock.now()))
            stores.update_store(self.conn, self.store.id, {"abandon_after_seconds": abandon_after})
        self.store = stores.get_store(self.conn, self.store.id)  # type: ignore[assignment]

    def send(
        self,
        events: list[dict[str, Any]] | None = None,
        *,
        tracker: str | None = None,
        email: str | None = None,
        cart: dict[str, Any] | None = None,
        entity: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        prepared = self.prepare(
            events, tracker=tracker, email=email, cart=cart, entity=entity, request_id=request_id
        )
        if self.rig is not None:
            return self._through_cluster([prepared])[0]
        with self.conn.transaction():
            return intake.apply(self.conn, prepared, to_micros(self.clock.now()))

    def send_together(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several requests in one transaction, warmed up first, as the group committer runs
        a batch (each dict: the keyword arguments of `send`)."""
        prepared = [self.prepare(**r) for r in requests]
        if self.rig is not None:
            return self._through_cluster(prepared)
        now = to_micros(self.clock.now())
        with self.conn.transaction(pipelined=True):
            intake.warm(self.conn, prepared)
            return [intake.apply(self.conn, p, now) for p in prepared]

    def _through_cluster(self, prepared: list[intake.Prepared]) -> list[dict[str, Any]]:
        """The requests through two collectors and the processors. Each answer is the one the
        processor stored with the request (it has what only the transaction knows: a cart's
        `outcome`, an adjustment); the collector's own answer must be that one without
        those parts."""
        assert self.rig is not None
        before = self.one(
            "SELECT COALESCE(MAX(id), 0) FROM requests WHERE store_id = ?", (self.store.id,)
        )
        answers = self.rig.send(prepared, self.clock)
        rows = self.q(
            "SELECT tracker_id, response FROM requests WHERE store_id = ? AND id > ? ORDER BY id",
            (self.store.id, before),
        )
        out = []
        for answer in answers:
            i = next((i for i, r in enumerate(rows) if r[0] == answer["trackerId"]), None)
            if i is None:  # a replay of a requestId: the collector answered from its bucket
                out.append(answer)
                continue
            stored = msgspec.json.decode(rows.pop(i)[1])
            assert answer == collector_view(stored), (answer, stored)
            out.append(stored)
        return out

    def prepare(
        self,
        events: list[dict[str, Any]] | None = None,
        *,
        tracker: str | None = None,
        email: str | None = None,
        cart: dict[str, Any] | None = None,
        entity: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> intake.Prepared:
        body: dict[str, Any] = {"events": events or []}
        info = dict(entity or {})
        if tracker:
            info["trackerId"] = tracker
        if email:
            info["primaryKey"] = email
        if info:
            body["entityInfo"] = info
        if cart is not None:
            body["cart"] = cart
        if request_id:
            body["requestId"] = request_id
        raw = msgspec.json.encode(body)
        env = read_envelope(raw)
        return intake.prepare(
            self.store,
            env,
            raw,
            ctx=CheckContext(now=self.clock.now(), currency=self.store.currency),
            max_event_bytes=32768,
        )

    def abandon(self) -> int:
        total = 0
        while True:
            n = mark_due_abandoned(self.conn, self.clock, 500)
            total += n
            if n < 500:
                return total

    def q(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.conn.all(sql, params)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.scalar(sql, params)

    def contact_of(self, tracker: str) -> str:
        """The contact a tracker of this store points to."""
        cid: str = self.one(
            "SELECT contact_id FROM trackers WHERE store_id = ? AND tracker_id = ?",
            (self.store.id, tracker),
        )
        return cid

    def activities(
        self, contact: str | None = None, kind: str | None = None
    ) -> list[tuple[str, str, Any]]:
        """Every stored activity, oldest first, as (contact id, type, data)."""
        out = []
        for cid, items in self.q(
            "SELECT contact_id, items FROM activities WHERE store_id = ? ORDER BY at, id",
            (self.store.id,),
        ):
            for item in msgspec.json.decode(items):
                if (contact is None or cid == contact) and (kind is None or item[0] == kind):
                    out.append((cid, item[0], item[2]))
        return out

    def carts(self) -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in self.q(
                "SELECT id, contact_id, cart_id, state FROM carts WHERE store_id = ? ORDER BY id",
                (self.store.id,),
            )
        ]

    def close(self) -> None:
        if self.owns_conn:
            self.conn.close()
