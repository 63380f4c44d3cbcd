"""`shopevents demo`: realistic simulated traffic, sent through the real ingest endpoint.

Visitors browse (page visits, product views, searches), fill carts, register or log in, buy
through several sources and payment methods, leave carts behind and come back for them.
Everything goes over HTTP to a running server, exactly as the client script would send it
(`POST /integration-type/system/scrippet-notification/{storeId}`, `text/plain`), and, with
`--api-key`, marketplace and point-of-sale orders go through `POST /api/purchases/`.

What is simulated and what is not (so the figures are honest):
- Events are received now; only purchases carry past dates (`purchaseDate`, spread evenly
  over the last `--days` days, with exact decimal amounts), so revenue charts show history
  while the events chart shows today. Purchases of carts recovered during the run are dated
  now.
- Abandonment needs time to pass: the demo sets a short abandonment delay on the store (20 s
  by default), waits for it, sends the visitors who come back to buy (recovered carts), and
  then puts the store's delay back. It needs the server's worker (on by default in `serve`).
- A few requests carry mistakes real integrations make (numbers as text, an unknown
  source_type, a purchase without its total, an unknown event type), so the integration
  debugger and the quarantine have something to show.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import click
import httpx

from shopevents.clock import Clock
from shopevents.storage import stores

FIRST = (
    "Ana",
    "Lucía",
    "Marta",
    "Carmen",
    "Elena",
    "Laura",
    "Sara",
    "Paula",
    "Irene",
    "Julia",
    "Pablo",
    "Javier",
    "Daniel",
    "Hugo",
    "Mario",
    "Diego",
    "Álvaro",
    "Adrián",
    "Sergio",
    "Iván",
    "Emma",
    "Olivia",
    "Noah",
    "Liam",
    "Chloé",
    "Lena",
    "Sofia",
    "Matteo",
    "Yuki",
    "Amara",
)
LAST = (
    "García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández", "Ruiz", "Díaz",
    "Moreno", "Muñoz", "Romero", "Navarro", "Torres", "Smith", "Dubois", "Rossi", "Schmidt",
    "Tanaka", "Okafor",
)  # fmt: skip
SHOP_HOURS = (9, 10, 11, 12, 13, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22)
SEARCHES = ("mug", "lamp", "wireless", "keyboard", "t-shirt", "bag", "gift", "coffee", "desk")
PAYMENTS = (("Credit card", 6), ("PayPal", 3), ("Bank transfer", 1), ("Apple Pay", 2))
WEB_SOURCES = (("digital-store", "Web shop", 7), ("digital-store", "Mobile app", 3))
OFFLINE_SOURCES = (
    ("marketplace", "Amazon", 4),
    ("marketplace", "Zalando", 2),
    ("point-of-sale", "Madrid store", 3),
    ("point-of-sale", "Valencia store", 2),
)

EXTRA_PRODUCTS = (
    ("cup-07", "Espresso cups, set of 4", "18.00", "/Kitchen/Mugs", "Trailware"),
    ("pot-08", "Pour-over coffee pot", "32.50", "/Kitchen/Coffee", "Brewline"),
    ("grn-09", "Coffee grinder", "45.00", "/Kitchen/Coffee", "Brewline"),
    ("mat-10", "Cork desk mat", "22.00", "/Home/Office", "Lumio"),
    ("pen-11", "Refillable fountain pen", "27.90", "/Home/Office", "Scriba"),
    ("nb-12", "Dotted notebook A5", "8.50", "/Home/Office", "Scriba"),
    ("hd-13", "Cotton hoodie", "39.00", "/Clothing/Hoodies", "Plainly"),
    ("sk-14", "Wool socks, 3 pairs", "14.00", "/Clothing/Socks", "Plainly"),
    ("cb-15", "USB-C cable 2 m", "11.90", "/Computers/Cables", "Keyco"),
    ("hub-16", "USB-C hub, 7 ports", "34.00", "/Computers/Accessories", "Keyco"),
)


def _weighted(rnd: random.Random, items: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    total = sum(i[-1] for i in items)
    x = rnd.uniform(0, total)
    for item in items:
        x -= item[-1]
        if x <= 0:
            return item
    return items[-1]


MONEY_FIELDS = ("unitPrice", "unitPriceOriginal", "discountedAmount", "discountedPercentage")


def _exact(product: dict[str, Any]) -> dict[str, Any]:
    """The product with its amounts as exact decimals: `Decimal(18.4)` is
    18.39999999999999857891452847979962825775146484375, and sums of such amounts reach the
    server as `18.400000000000000355…` (a `rounded_amount` warning a healthy shop never
    gets); the decimal of the amount's shortest text is the price the shop shows."""
    return {
        k: Decimal(str(v)) if k in MONEY_FIELDS and isinstance(v, float | int) else v
        for k, v in product.items()
    }


def catalog(base: str) -> list[dict[str, Any]]:
    """The demo shop's products (same ids and URLs as /demo/) and a few more."""
    from shopevents.demoshop import CATALOG, product_js

    out = [_exact(product_js(p, base, "js")) for p in CATALOG.values()]
    for pid, name, price, cat, brand in EXTRA_PRODUCTS:
        out.append(
            {
                "productId": pid,
                "name": name,
                "productDetailUrl": f"{base}/demo/js/product/{pid}",
                "unitPrice": Decimal(price),
                "availability": "instock",
                "brand": brand,
                "categories": [cat],
            }
        )
    return out


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
        from shopevents.storage.codec import dumpb

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
            "paymentMethod": _weighted(self.rnd, PAYMENTS)[0],
            "source_type": source[0],
            "source_name": source[1],
        }
        if date:
            out["purchaseDate"] = date
        return out

    def checkout(self, v: Visitor, *, date: str | None, resend: bool = False) -> dict[str, Any]:
        if v.email is None:
            self.person(v)
            self.send(
                v,
                [{"type": "page-visit"}, {"type": "register"}],
                url="/demo/js/checkout",
                title="Checkout",
                identify=True,
                cart=True,
            )
            if self.rnd.random() < 0.4:
                self.send(
                    v, [{"type": "newsletter-subscribe"}], identify=True, url="/demo/js/checkout"
                )
        else:
            self.send(
                v,
                [{"type": "page-visit"}, {"type": "login"}],
                url="/demo/js/checkout",
                title="Checkout",
                identify=True,
                cart=True,
            )
        purchase = self.purchase_json(v, _weighted(self.rnd, WEB_SOURCES), date)
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
        source = _weighted(self.rnd, OFFLINE_SOURCES)
        purchase = self.purchase_json(v, source, self.purchase_date())
        purchase.pop("cartId", None)
        if self.api_key:
            from shopevents.storage.codec import dumpb

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


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def run_demo(
    env: Any,
    *,
    url: str,
    store_ref: str | None,
    api_key: str | None,
    visitors: int,
    days: int,
    abandon_after: str,
    seed: int | None,
) -> None:
    from shopevents.context import DEMO_STORE_NAME
    from shopevents.domain import store_settings

    env.require_migrated()
    ref = store_ref or DEMO_STORE_NAME
    store = env.read(lambda c: stores.get_store(c, ref) or stores.find_store_by_name(c, ref))
    if store is None:
        if store_ref is not None:
            raise click.ClickException(f"no store has the id or name {store_ref!r}")
        store = env.write(lambda c, now: stores.create_store(c, DEMO_STORE_NAME, now=now))
        click.echo(f"created the store {DEMO_STORE_NAME!r} ({store.id})", err=True)
    try:
        health = httpx.get(f"{url}/healthz", timeout=5)
        health.raise_for_status()
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"no shopevents server answers at {url} ({exc}); start one with `shopevents serve --demo`"
        ) from exc
    delay = None if abandon_after == "keep" else store_settings.abandon_after(abandon_after)
    original = store.abandon_after_seconds
    rnd = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30) as client:
        probe = client.post(
            f"/integration-type/system/scrippet-notification/{store.id}",
            content=b'{"events":[]}',
            headers={"Content-Type": "text/plain"},
        )
        if probe.status_code == 403:
            raise click.ClickException(
                f"the server at {url} does not know store {store.id}: run the demo with the "
                "same --database (or SHOPEVENTS_DATABASE_URL) as the server"
            )
        if delay is not None and delay != original:
            env.write(
                lambda c, now: stores.update_store(c, store.id, {"abandon_after_seconds": delay})
            )
            time.sleep(2.2)  # the server re-reads store settings every 2 s
        sim = Simulator(client, store.id, url, rnd, days, api_key, env.clock)
        offline = max(1, visitors // 8)
        try:
            with _progress() as bar:
                task = bar.add_task("visitors", total=visitors)
                for _ in range(visitors):
                    sim.visitor()
                    bar.advance(task)
                task = bar.add_task("other channels", total=offline + 1)
                for _ in range(offline):
                    sim.offline_order()
                    bar.advance(task)
                sim.mistakes()
                bar.advance(task)
                back = [v for v in sim.abandoners if rnd.random() < 0.3]  # a third come back
                wait = (delay if delay is not None else original) + 3
                if back and wait <= 600:
                    task = bar.add_task("waiting for carts to be abandoned (s)", total=wait)
                    for _ in range(wait):
                        time.sleep(1)
                        bar.advance(task)
                    task = bar.add_task("visitors coming back for their cart", total=len(back))
                    for v in back:
                        sim.come_back(v)
                        bar.advance(task)
        finally:
            if delay is not None and delay != original:
                env.write(
                    lambda c, now: stores.update_store(
                        c, store.id, {"abandon_after_seconds": original}
                    )
                )
    t = sim.tally
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(t.statuses.items()))
    click.echo("")
    click.echo(f"  sent {t.requests} requests for {visitors} visitors to store {store.id}")
    click.echo(f"  events: {statuses}")
    click.echo(
        f"  purchases: {t.purchases} ({t.api_purchases} through the REST API), "
        f"carts left behind: {t.left_carts}, came back and bought: {t.recovered}, "
        f"returning customers on a new device: {t.merges}"
    )
    if delay is not None and delay != original:
        click.echo(
            f"  the abandonment delay was {delay} s during the demo and is {original} s again"
        )
    click.echo(
        f"  purchase dates are spread over the last {days} days; every other event is received now"
    )
    click.echo(f"  open the dashboard: {url}/stores/{store.id}/")
