"""The demo shop's pages under /demo/ (see the package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from shopevents.client.snippet import loader_snippet
from shopevents.clock import Clock
from shopevents.demoshop.catalog import CATALOG, CATEGORIES
from shopevents.demoshop.page_model import (
    VARIANTS,
    cart_js,
    entity_js,
    ordered,
    product_js,
    purchase_js,
)
from shopevents.demoshop.state import (
    MAX_QTY,
    PAYMENT_METHODS,
    Cart,
    Customer,
    State,
    clean_name,
    new_order,
    valid_email,
)
from shopevents.jsoncodec import pretty

COOKIE = "se_demo"


class DemoContext(Protocol):
    clock: Clock

    async def demo_store_id(self) -> str | None: ...


def _source(value: Any) -> Markup:
    """Shows HTML as text (for the "what this page sends" panels)."""
    return escape(str.__str__(value))


def make_env() -> Environment:
    env = Environment(
        loader=PackageLoader("shopevents.demoshop", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["source"] = _source
    env.filters["money"] = lambda v: f"{v:,.2f}"
    return env


def js_call(
    events: list[dict[str, Any]], entity: dict[str, Any] | None, cart: dict[str, Any] | None
) -> str:
    """The sendEvents call a JS-integrated page makes, as a developer would write it."""
    options = []
    if entity:
        options.append("  entityInfo: " + pretty(entity).replace("\n", "\n  "))
    if cart:
        options.append("  cart: " + pretty(cart).replace("\n", "\n  "))
    opts = "{\n" + ",\n".join(options) + "\n}" if options else "{}"
    return f"connectif.managed.sendEvents({pretty(events)}, {opts});"


def routes(ctx: DemoContext) -> list[BaseRoute]:
    env = make_env()

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def state_of(request: Request) -> State:
        return State.decode(request.cookies.get(COOKIE))

    def store_cookie(response: Response, variant: str, state: State) -> None:
        response.set_cookie(
            COOKIE,
            state.encode(),
            path=f"/demo/{variant}/",
            httponly=True,
            samesite="lax",
            max_age=30 * 24 * 3600,
        )

    async def page(
        request: Request,
        variant: str,
        template: str,
        state: State,
        *,
        events: list[dict[str, Any]] | None = None,
        categories: list[str] | None = None,
        status: int = 200,
        **extra: Any,
    ) -> Response:
        base = base_url(request)
        store_id = await ctx.demo_store_id()
        evs = list(events or [])
        for flash in state.flash:
            if flash == "newsletter" and state.customer:
                evs.append({"type": "newsletter-subscribe", "email": state.customer.email})
            elif flash in ("login", "register"):
                evs.append({"type": flash})
        evs = ordered(evs)
        entity = entity_js(state.customer)
        cart = cart_js(state.cart, base, variant) if state.cart else None
        sent = [*evs, {"type": "page-visit"}]
        data = {"events": sent, "entityInfo": entity, "cart": cart}
        html = env.get_template(template).render(
            request=request,
            variant=variant,
            other_variant="tags" if variant == "js" else "js",
            root=f"/demo/{variant}",
            store_id=store_id,
            snippet=Markup(loader_snippet(store_id, base, mode=variant)) if store_id else None,
            state=state,
            cart_count=state.cart.total_quantity if state.cart else 0,
            events=evs,
            entity=entity,
            cart=cart,
            data=data,
            code=js_call(sent, entity, cart),
            page_categories=categories or [],
            categories=CATEGORIES,
            catalog=CATALOG,
            **extra,
        )
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if state.flash:
            state.flash = []
            store_cookie(response, variant, state)
        return response

    def redirect(variant: str, path: str, state: State) -> Response:
        response = RedirectResponse(f"/demo/{variant}{path}", status_code=303)
        store_cookie(response, variant, state)
        return response

    async def landing(request: Request) -> Response:
        store_id = await ctx.demo_store_id()
        base = base_url(request)
        html = env.get_template("landing.html").render(
            store_id=store_id,
            snippet=loader_snippet(store_id, base) if store_id else "",
            base=base,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def not_found(request: Request) -> Response:
        return HTMLResponse("Not found", status_code=404)

    async def home(request: Request, variant: str) -> Response:
        return await page(
            request,
            variant,
            "home.html",
            state_of(request),
            products=list(CATALOG.values()),
            heading="All products",
        )

    async def category(request: Request, variant: str) -> Response:
        slug = request.path_params["slug"]
        if slug not in CATEGORIES:
            return await not_found(request)
        products = [p for p in CATALOG.values() if p.category_slug == slug]
        return await page(
            request,
            variant,
            "home.html",
            state_of(request),
            products=products,
            heading=CATEGORIES[slug].strip("/"),
            categories=[CATEGORIES[slug]],
        )

    async def product(request: Request, variant: str) -> Response:
        state = state_of(request)
        pid = request.path_params["product_id"]
        p = CATALOG.get(pid)
        if p is None:
            return await page(
                request,
                variant,
                "notfound.html",
                state,
                events=[{"type": "product-not-found", "productId": pid[:64]}],
                status=404,
                missing=pid[:64],
            )
        model = product_js(p, base_url(request), variant)
        return await page(
            request,
            variant,
            "product.html",
            state,
            events=[{"type": "product-visited", "product": model}],
            product=p,
            model=model,
            categories=[p.category],
            in_cart=state.cart.quantity(p.id) if state.cart else 0,
        )

    async def search(request: Request, variant: str) -> Response:
        q = " ".join(request.query_params.get("q", "").split())[:80]
        words = q.lower().split()
        found = [
            p
            for p in CATALOG.values()
            if words and all(w in f"{p.name} {p.brand} {p.category}".lower() for w in words)
        ]
        base, variant = base_url(request), variant
        events: list[dict[str, Any]] = [
            {"type": "product-searched", "product": product_js(p, base, variant)} for p in found
        ]
        if q:
            events.append({"type": "search", "searchText": q})
        return await page(
            request,
            variant,
            "home.html",
            state_of(request),
            events=events,
            products=found,
            heading=f"Search: {q}" if q else "Search",
            query=q,
        )

    async def cart_page(request: Request, variant: str) -> Response:
        state = state_of(request)
        lines = [(CATALOG[pid], q) for pid, q in state.cart.lines] if state.cart else []
        return await page(request, variant, "cart.html", state, lines=lines, max_qty=MAX_QTY)

    async def cart_update(request: Request, variant: str) -> Response:
        form = await request.form()
        state = state_of(request)
        pid = str(form.get("product", ""))
        try:
            qty = int(str(form.get("qty", "1")))
        except ValueError:
            qty = 1
        if pid in CATALOG:
            cart = state.cart or Cart.new()
            if form.get("action") == "set":
                cart.set(pid, qty)
            else:
                cart.set(pid, cart.quantity(pid) + max(1, qty))
            state.cart = cart
        return redirect(variant, "/cart", state)

    async def checkout(request: Request, variant: str) -> Response:
        state = state_of(request)
        if not state.cart or not state.cart.lines:
            return redirect(variant, "/cart", state)
        errors: list[str] = []
        values = {
            "email": state.customer.email if state.customer else "",
            "name": state.customer.name if state.customer else "",
            "surname": state.customer.surname if state.customer else "",
            "payment": "card",
        }
        if request.method == "POST":
            form = await request.form()
            values = {
                "email": str(form.get("email", "")).strip(),
                "name": clean_name(form.get("name", "")),
                "surname": clean_name(form.get("surname", "")),
                "payment": str(form.get("payment", "card")),
            }
            if not valid_email(values["email"]):
                errors.append("Please enter a valid e-mail address.")
            if values["payment"] not in PAYMENT_METHODS:
                errors.append("Please choose a payment method.")
            if not errors:
                state.customer = Customer(values["email"], values["name"], values["surname"])
                state.order = new_order(state.cart, values["payment"], ctx.clock.now())
                state.cart = None
                return redirect(variant, f"/confirmation/{state.order.id}", state)
        return await page(
            request,
            variant,
            "checkout.html",
            state,
            values=values,
            errors=errors,
            payment_methods=PAYMENT_METHODS,
            lines=[(CATALOG[pid], q) for pid, q in state.cart.lines],
            status=400 if errors else 200,
        )

    async def confirmation(request: Request, variant: str) -> Response:
        state = state_of(request)
        order = (
            state.order
            if state.order and state.order.id == request.path_params["order_id"]
            else None
        )
        if order is None:
            return await page(request, variant, "confirmation.html", state, order=None, status=404)
        purchase = purchase_js(order, base_url(request), variant)
        return await page(
            request,
            variant,
            "confirmation.html",
            state,
            events=[{"type": "purchase", "purchase": purchase}],
            order=order,
            purchase=purchase,
            lines=[(CATALOG[pid], q) for pid, q in order.lines],
        )

    async def account(request: Request, variant: str) -> Response:
        form = await request.form()
        state = state_of(request)
        action = form.get("action")
        if action == "logout":
            state.customer = None
        else:
            email = str(form.get("email", "")).strip()
            if valid_email(email):
                state.customer = Customer(
                    email, clean_name(form.get("name", "")), clean_name(form.get("surname", ""))
                )
                state.flash.append("register" if action == "register" else "login")
        return redirect(variant, _back(request, variant), state)

    async def newsletter(request: Request, variant: str) -> Response:
        form = await request.form()
        state = state_of(request)
        email = str(form.get("email", "")).strip()
        if valid_email(email):
            if state.customer is None or state.customer.email != email:
                state.customer = Customer(email)
            state.flash.append("newsletter")
        return redirect(variant, _back(request, variant), state)

    async def image(request: Request) -> Response:
        p = CATALOG.get(request.path_params["product_id"])
        if p is None:
            return Response(status_code=404)
        svg = env.get_template("product.svg").render(product=p)
        return Response(
            svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    Handler = Callable[[Request, str], Awaitable[Response]]

    def bound(handler: Handler, variant: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(request, variant)

        return endpoint

    pages: list[tuple[str, Handler, list[str]]] = [
        ("/", home, ["GET"]),
        ("/category/{slug}", category, ["GET"]),
        ("/product/{product_id}", product, ["GET"]),
        ("/search", search, ["GET"]),
        ("/cart", cart_page, ["GET"]),
        ("/cart", cart_update, ["POST"]),
        ("/checkout", checkout, ["GET", "POST"]),
        ("/confirmation/{order_id}", confirmation, ["GET"]),
        ("/account", account, ["POST"]),
        ("/newsletter", newsletter, ["POST"]),
    ]
    table: list[BaseRoute] = [
        Route("/demo", lambda r: RedirectResponse("/demo/", status_code=307)),
        Route("/demo/", landing),
        Route("/demo/img/{product_id}.svg", image),
    ]
    for variant in VARIANTS:
        table.append(
            Route(
                f"/demo/{variant}",
                lambda r, v=variant: RedirectResponse(f"/demo/{v}/", status_code=307),
            )
        )
        table += [
            Route(f"/demo/{variant}{path}", bound(h, variant), methods=m) for path, h, m in pages
        ]
    return table


def _back(request: Request, variant: str) -> str:
    """The shop page the form was posted from (a path inside the variant), or its home."""
    referer = request.headers.get("referer", "")
    prefix = f"{str(request.base_url).rstrip('/')}/demo/{variant}"
    if referer.startswith(prefix + "/"):
        rest = referer[len(prefix) :].split("#")[0]
        if rest.startswith("/") and not rest.startswith("//") and "\\" not in rest:
            return rest
    return "/"
