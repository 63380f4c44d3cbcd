"""The demo shop's pages under /demo/ (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from shopevents.client.snippet import loader_snippet
from shopevents.demoshop import (
    CATALOG,
    CATEGORIES,
    MAX_QTY,
    PAYMENT_METHODS,
    VARIANTS,
    Cart,
    Customer,
    State,
    cart_js,
    clean_name,
    entity_js,
    new_order,
    ordered,
    product_js,
    purchase_js,
    valid_email,
)

COOKIE = "se_demo"


class DemoContext(Protocol):
    def demo_store_id(self) -> str | None: ...


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
        options.append("  entityInfo: " + json.dumps(entity, indent=2).replace("\n", "\n  "))
    if cart:
        options.append("  cart: " + json.dumps(cart, indent=2).replace("\n", "\n  "))
    opts = "{\n" + ",\n".join(options) + "\n}" if options else "{}"
    return f"connectif.managed.sendEvents({json.dumps(events, indent=2)}, {opts});"


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

    def variant_of(request: Request) -> str | None:
        v = request.path_params.get("variant")
        return v if v in VARIANTS else None

    def page(
        request: Request,
        template: str,
        state: State,
        *,
        events: list[dict[str, Any]] | None = None,
        categories: list[str] | None = None,
        status: int = 200,
        **extra: Any,
    ) -> Response:
        variant = variant_of(request) or "js"
        base = base_url(request)
        store_id = ctx.demo_store_id()
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

    def redirect(request: Request, path: str, state: State) -> Response:
        variant = variant_of(request) or "js"
        response = RedirectResponse(f"/demo/{variant}{path}", status_code=303)
        store_cookie(response, variant, state)
        return response

    async def landing(request: Request) -> Response:
        store_id = ctx.demo_store_id()
        base = base_url(request)
        html = env.get_template("landing.html").render(
            store_id=store_id,
            snippet=loader_snippet(store_id, base) if store_id else "",
            base=base,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def not_a_variant(request: Request) -> Response:
        return HTMLResponse("Not found", status_code=404)

    async def home(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        return page(
            request,
            "home.html",
            state_of(request),
            products=list(CATALOG.values()),
            heading="All products",
        )

    async def category(request: Request) -> Response:
        slug = request.path_params["slug"]
        if not variant_of(request) or slug not in CATEGORIES:
            return await not_a_variant(request)
        products = [p for p in CATALOG.values() if p.category_slug == slug]
        return page(
            request,
            "home.html",
            state_of(request),
            products=products,
            heading=CATEGORIES[slug].strip("/"),
            categories=[CATEGORIES[slug]],
        )

    async def product(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        state = state_of(request)
        pid = request.path_params["product_id"]
        p = CATALOG.get(pid)
        if p is None:
            return page(
                request,
                "notfound.html",
                state,
                events=[{"type": "product-not-found", "productId": pid[:64]}],
                status=404,
                missing=pid[:64],
            )
        model = product_js(p, base_url(request), variant_of(request) or "js")
        return page(
            request,
            "product.html",
            state,
            events=[{"type": "product-visited", "product": model}],
            product=p,
            model=model,
            categories=[p.category],
            in_cart=state.cart.quantity(p.id) if state.cart else 0,
        )

    async def search(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        q = " ".join(request.query_params.get("q", "").split())[:80]
        words = q.lower().split()
        found = [
            p
            for p in CATALOG.values()
            if words and all(w in f"{p.name} {p.brand} {p.category}".lower() for w in words)
        ]
        base, variant = base_url(request), variant_of(request) or "js"
        events: list[dict[str, Any]] = [
            {"type": "product-searched", "product": product_js(p, base, variant)} for p in found
        ]
        if q:
            events.append({"type": "search", "searchText": q})
        return page(
            request,
            "home.html",
            state_of(request),
            events=events,
            products=found,
            heading=f"Search: {q}" if q else "Search",
            query=q,
        )

    async def cart_page(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        state = state_of(request)
        lines = [(CATALOG[pid], q) for pid, q in state.cart.lines] if state.cart else []
        return page(request, "cart.html", state, lines=lines, max_qty=MAX_QTY)

    async def cart_update(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
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
        return redirect(request, "/cart", state)

    async def checkout(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        state = state_of(request)
        if not state.cart or not state.cart.lines:
            return redirect(request, "/cart", state)
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
                state.order = new_order(state.cart, values["payment"])
                state.cart = None
                return redirect(request, f"/confirmation/{state.order.id}", state)
        return page(
            request,
            "checkout.html",
            state,
            values=values,
            errors=errors,
            payment_methods=PAYMENT_METHODS,
            lines=[(CATALOG[pid], q) for pid, q in state.cart.lines],
            status=400 if errors else 200,
        )

    async def confirmation(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        state = state_of(request)
        order = (
            state.order
            if state.order and state.order.id == request.path_params["order_id"]
            else None
        )
        if order is None:
            return page(request, "confirmation.html", state, order=None, status=404)
        purchase = purchase_js(order, base_url(request), variant_of(request) or "js")
        return page(
            request,
            "confirmation.html",
            state,
            events=[{"type": "purchase", "purchase": purchase}],
            order=order,
            purchase=purchase,
            lines=[(CATALOG[pid], q) for pid, q in order.lines],
        )

    async def account(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
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
        return redirect(request, _back(request), state)

    async def newsletter(request: Request) -> Response:
        if not variant_of(request):
            return await not_a_variant(request)
        form = await request.form()
        state = state_of(request)
        email = str(form.get("email", "")).strip()
        if valid_email(email):
            if state.customer is None or state.customer.email != email:
                state.customer = Customer(email)
            state.flash.append("newsletter")
        return redirect(request, _back(request), state)

    async def image(request: Request) -> Response:
        p = CATALOG.get(request.path_params["product_id"])
        if p is None:
            return Response(status_code=404)
        svg = env.get_template("product.svg").render(product=p)
        return Response(
            svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    v = "/demo/{variant}"
    return [
        Route("/demo", lambda r: RedirectResponse("/demo/", status_code=307)),
        Route("/demo/", landing),
        Route("/demo/img/{product_id}.svg", image),
        Route(v, lambda r: RedirectResponse(f"/demo/{r.path_params['variant']}/", status_code=307)),
        Route(v + "/", home),
        Route(v + "/category/{slug}", category),
        Route(v + "/product/{product_id}", product),
        Route(v + "/search", search),
        Route(v + "/cart", cart_page, methods=["GET"]),
        Route(v + "/cart", cart_update, methods=["POST"]),
        Route(v + "/checkout", checkout, methods=["GET", "POST"]),
        Route(v + "/confirmation/{order_id}", confirmation),
        Route(v + "/account", account, methods=["POST"]),
        Route(v + "/newsletter", newsletter, methods=["POST"]),
    ]


def _back(request: Request) -> str:
    """The shop page the form was posted from (a path inside the variant), or its home."""
    variant = request.path_params["variant"]
    referer = request.headers.get("referer", "")
    prefix = f"{str(request.base_url).rstrip('/')}/demo/{variant}"
    if referer.startswith(prefix + "/"):
        rest = referer[len(prefix) :].split("#")[0]
        if rest.startswith("/") and not rest.startswith("//") and "\\" not in rest:
            return rest
    return "/"
