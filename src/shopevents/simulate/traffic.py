"""Simulated visitors and what they do: browse, search, fill carts, register or log in, buy
through several sources, leave carts behind, make the mistakes real integrations make. Each
step is a request to a running server, as the client script (or a back end, through the
REST API) would send it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import click
import httpx

from shopevents.clock import Clock
from shopevents.jsoncodec import dumpb
from shopevents.simulate.catalog import catalog
from shopevents.simulate.choices import (
    FIRST,
    LAST,
    OFFLINE_SOURCES,
    PAYMENTS,
    SEARCHES,
    SHOP_HOURS,
    WEB_SOURCES,
    weighted,
)


@dataclass
class Visitor:
    tracker: str | None = None
    email: str | None = None
    name: str = ""
    surname: str = ""
    cart_id: str | None = None
    lines: list[tuple[dict[str, Any], int]] = field(default_factory=list)


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    purchases: int = 0
    api_purchases: int = 0
    left_carts: int = 0
    recovered: int = 0
    merges: int = 0

    def count(self, response: dict[str, Any]) -> None:
        for r in response.get("results") or []:
            self.statuses[r["status"]] = self.statuses.get(r["status"], 0) + 1


class Simulator:
    def __init__(
        self,
        client: httpx.Client,
        store_id: str,
        base: str,
        rnd: random.Random,
        days: int,
        api_key: str | None,
        clock: Clock,
    ) -> None:
        self.client = client
        self.clock = clock
        self.store_id = store_id
        self.base = base
        self.rnd = rnd
        self.days = days
        self.api_key = api_key
        self.products = catalog(base)
        self.tally = Tally()
        self.customers: list[Visitor] = []
        self.abandoners: list[Visitor] = []
        self.order_no = rnd.randrange(10_000, 90_000)

    # -- sending ------------------------------------------------------------------------------

    def send(
        self,
        v: Visitor,
        events: list[dict[str, Any]],
        *,
        url: str = "/demo/js/",
        title: str = "Demo shop",
        cart: bool = False,
        identify: bool = False,
        raw_events: list[str] | None = None,
    ) -> dict[str, Any]:
        entity: dict[str, Any] = {}
        if v.tracker:
            entity["trackerId"] = v.tracker
        if identify and v.email:
            entity["primaryKey"] = v.email
            if v.name:
                entity["_name"] = v.name
                entity["_surname"] = v.surname
        body: dict[str, Any] = {
            "events": events,
            "pageInfo": {"title": title},
            "browserInfo": {"url": self.base + url},
        }
        if entity:
            body["entityInfo"] = entity
        if cart and v.cart_id:
            body["cart"] = self.cart_json(v)
        data = dumpb(body)
        if raw_events:  # events a buggy integration would send, spliced in as text
            data = data.replace(
                b'"events":[',
                b'"events":[' + ",".join(raw_events).encode() + (b"," if events else b""),
                1,
            )
        r = self.client.post(
            f"/integration-type/system/scrippet-notification/{self.store_id}",
            content=data,
            headers={"Content-Type": "text/plain"},
        )
        self.tally.requests += 1
        if r.status_code != 200:
            raise click.ClickException(f"the server answered {r.status_code}: {r.text[:300]}")
        out: dict[str, Any] = r.json()
        v.tracker = out.get("trackerId") or v.tracker
        self.tally.count(out)
        return out

    def cart_json(self, v: Visitor) -> dict[str, Any]:
        items = [{**p, "quantity": q, "price": Decimal(p["unitPrice"]) * q} for p, q in v.lines]
        return {
            "cartId": v.cart_id,
            "totalQuantity": sum(q for _, q in v.lines),
            "totalPrice": sum((i["price"] for i in items), Decimal(0)),
            "cartRecoveryUrl": f"{self.base}/demo/js/cart",
            "products": items,
        }

    # -- behaviour ----------------------------------------------------------------------------

    def person(self, v: Visitor) -> None:
        first = self.rnd.choice(FIRST)
        last = self.rnd.choice(LAST)
        v.name, v.surname = first, last
        plain = (
            f"{first}.{last}".lower()
            .replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o")
            .replace("ú", "u").replace("ñ", "n")
        )  # fmt: skip
        v.email = f"{plain}{self.rnd.randrange(1, 999)}@example.com"

    def browse(self, v: Visitor, views: int) -> None:
        self.send(v, [{"type": "page-visit"}], url="/demo/js/", title="Demo shop")
        for _ in range(views):
            p = self.rnd.choice(self.products)
            if self.rnd.random() < 0.25:
                text = self.rnd.choice(SEARCHES)
                self.send(
                    v,
                    [{"type": "page-visit"}, {"type": "search", "searchText": text}],
                    url=f"/demo/js/search?q={text}",
                    title=f"Search: {text}",
                )
            self.send(
                v,
                [{"type": "page-visit"}, {"type": "product-visited", "product": p}],
                url=f"/demo/js/product/{p['productId']}",
                title=p["name"],
            )

    def fill_cart(self, v: Visitor) -> None:
        v.cart_id = f"cart-{self.rnd.getrandbits(48):012x}"
        for _ in range(self.rnd.choice((1, 1, 2, 2, 3))):
            p = self.rnd.choice(self.products)
            if any(x["productId"] == p["productId"] for x, _ in v.lines):
                continue
            v.lines.append((p, self.rnd.choice((1, 1, 1, 2, 3))))
            self.send(
                v, [{"type": "page-visit"}], url="/demo/js/cart", title="Your cart", cart=True
            )
        if len(v.lines) > 1 and self.rnd.random() < 0.3:  # changes their mind about one
            v.lines.pop()
            self.send(
                v, [{"type": "page-visit"}], url="/demo/js/cart", title="Your cart", cart=True
            )

    def purchase_date(self) -> str:
        """A past instant, any of the last `days` days as likely as another (today only up to
        now), in shop hours: afternoon and evening more than morning."""
        now = self.clock.now()
        latest = now - timedelta(minutes=1)
        for _ in range(50):
            day = self.rnd.randrange(max(self.days, 1))
            hour = self.rnd.choice(SHOP_HOURS)
            at = (now - timedelta(days=day)).replace(
                hour=hour, minute=self.rnd.randrange(60), second=self.rnd.randrange(60)
            )
            if at <= latest:
                break
        else:
            at = latest
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def next_order(self) -> str:
        self.order_no += self.rnd.randrange(1, 4)
        return f"ORD-{self.order_no}"

    def purchase_json(
        self, v: Visitor, source: tuple[Any, ...], date: str | None
    ) -> dict[str, Any]:
        cart = self.cart_json(v)
        out = {
            "purchaseId": self.next_order(),
            "cartId": v.cart_id,
            "totalQuantity": cart["totalQuantity"],
            "totalPrice": cart["totalPrice"],
            "products": cart["products"],
            "paymentMethod": weighted(self.rnd, PAYMENTS)[0],
            "source_type": source[0],
            "source_name": source[1],
        }
        if date:
            out["purchaseDate"] = date
        return out

    def checkout(self, v: Visitor, *, date: str | None, resend: bool = False) -> dict[str, Any]:
        newcomer = v.email is None
        if newcomer:
            self.person(v)
        self.send(
            v,
            [{"type": "page-visit"}, {"type": "register" if newcomer else "login"}],
            url="/demo/js/checkout",
            title="Checkout",
            identify=True,
            cart=True,
        )
        if newcomer and self.rnd.random() < 0.4:
            self.send(v, [{"type": "newsletter-subscribe"}], identify=True, url="/demo/js/checkout")
        purchase = self.purchase_json(v, weighted(self.rnd, WEB_SOURCES), date)
        event = {"type": "purchase", "purchase": purchase}
        self.send(
            v,
            [{"type": "page-visit"}, event],
            url="/demo/js/confirmation",
            title="Thank you",
            identify=True,
        )
        self.tally.purchases += 1
        if resend:  # the customer reloads the confirmation page
            self.send(
                v,
                [{"type": "page-visit"}, event],
                url="/demo/js/confirmation",
                title="Thank you",
                identify=True,
            )
        v.lines, v.cart_id = [], None
        self.customers.append(v)
        return purchase

    def offline_order(self) -> None:
        v = (
            self.rnd.choice(self.customers)
            if self.customers and self.rnd.random() < 0.5
            else Visitor()
        )
        if v.email is None:
            self.person(v)
        v.cart_id = None
        v.lines = [(self.rnd.choice(self.products), self.rnd.choice((1, 1, 2)))]
        source = weighted(self.rnd, OFFLINE_SOURCES)
        purchase = self.purchase_json(v, source, self.purchase_date())
        purchase.pop("cartId", None)
        if self.api_key:
            r = self.client.post(
                "/api/purchases/",
                content=dumpb({**purchase, "contactEmail": v.email}),
                headers={
                    "Authorization": f"apiKey {self.api_key}",
                    "Content-Type": "application/json",
                },
            )
            self.tally.requests += 1
            if r.status_code not in (200, 201):
                raise click.ClickException(
                    f"POST /api/purchases/ answered {r.status_code}: {r.text[:300]}"
                )
            self.tally.api_purchases += 1
        else:
            self.send(
                v,
                [{"type": "purchase", "purchase": purchase}],
                url="/pos",
                title="Point of sale",
                identify=True,
            )
        self.tally.purchases += 1
        v.lines = []

    def mistakes(self) -> None:
        """Requests with the mistakes real integrations make."""
        v = Visitor()
        p = self.rnd.choice(self.products)
        as_text = {**p, "unitPrice": str(p["unitPrice"])}
        self.send(
            v,
            [{"type": "product-visited", "product": as_text}],
            url=f"/demo/js/product/{p['productId']}",
        )
        self.send(
            v,
            [{"type": "page-visit"}],
            raw_events=['{"type":"add-to-wishlist","productId":"' + p["productId"] + '"}'],
        )
        self.person(v)
        v.lines = [(p, 1)]
        v.cart_id = f"cart-{self.rnd.getrandbits(48):012x}"
        broken = self.purchase_json(v, ("webshop", "Web shop"), self.purchase_date())
        broken.pop("totalPrice")
        self.send(
            v,
            [{"type": "purchase", "purchase": broken}],
            identify=True,
            url="/demo/js/confirmation",
        )
        odd = self.purchase_json(v, ("webshop", "Web shop"), self.purchase_date())
        odd["totalPrice"] = str(odd["totalPrice"])
        self.send(
            v, [{"type": "purchase", "purchase": odd}], identify=True, url="/demo/js/confirmation"
        )
        self.tally.purchases += 1
        conflict = {**odd, "totalPrice": "1.00"}
        self.send(
            v,
            [{"type": "purchase", "purchase": conflict}],
            identify=True,
            url="/demo/js/confirmation",
        )

    def visitor(self) -> None:
        v = Visitor()
        kind = self.rnd.random()
        if kind < 0.38:  # just browsing
            self.browse(v, self.rnd.randrange(1, 5))
        elif kind < 0.62:  # fills a cart and leaves
            self.browse(v, self.rnd.randrange(1, 4))
            if self.rnd.random() < 0.6:
                self.person(v)
                self.send(v, [{"type": "login"}], identify=True)
            self.fill_cart(v)
            if v.lines:
                self.abandoners.append(v)
                self.tally.left_carts += 1
        elif kind < 0.92:  # buys
            self.browse(v, self.rnd.randrange(1, 4))
            self.fill_cart(v)
            if v.lines:
                self.checkout(v, date=self.purchase_date(), resend=self.rnd.random() < 0.08)
        elif self.customers:  # a customer back on another device: merges on login
            old = self.rnd.choice(self.customers)
            v2 = Visitor()
            self.browse(v2, self.rnd.randrange(1, 3))
            v2.email, v2.name, v2.surname = old.email, old.name, old.surname
            self.send(v2, [{"type": "login"}], identify=True)
            self.tally.merges += 1
            self.fill_cart(v2)
            if v2.lines:
                self.checkout(v2, date=self.purchase_date())
        else:
            self.browse(v, 2)

    def come_back(self, v: Visitor) -> None:
        self.send(v, [{"type": "page-visit"}], url="/demo/js/cart", title="Your cart", cart=True)
        self.checkout(v, date=None)
        self.tally.recovered += 1
