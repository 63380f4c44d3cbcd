"""A store's *Purchases*: the list (searched by purchaseId), the repeats tab (duplicates and
conflicts), one purchase with every version received, and its refund and cancel forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.adjustments_routes import write_adjustment
from shopevents.clock import to_micros
from shopevents.dashboard import queries as dq
from shopevents.dashboard.params import PAGE, bounded, paged, query
from shopevents.dashboard.site import redirect, store_view
from shopevents.domain.adjustment_bodies import parse_cancellation, parse_refund
from shopevents.errors import ApiError
from shopevents.storage import reads


async def purchases(request: Request) -> Response:
    v, store = store_view(request)
    text = (v.q.get("q") or "").strip()[:200]
    tab = "repeats" if v.q.get("view") == "repeats" else "all"
    page_no = bounded(v.q.get("page"), 1, 1, 10**6)
    if tab == "repeats":
        rows = await v.read(lambda c: dq.purchase_repeats(c, store.id, limit=100))
        conflicts = await v.read(lambda c: reads.purchases_with_conflicts(c, store.id, 50))
        return v.render(
            "purchases.html",
            active="purchases",
            tab=tab,
            text=text,
            repeats=rows,
            conflicts=conflicts,
            rows=[],
            more=False,
            page_no=1,
            total=None,
            query=lambda **kw: query(v.q, **kw),
        )
    if text and page_no == 1:
        exact = await v.read(lambda c: reads.purchase_by_id(c, store.id, text))
        if exact is not None:
            return redirect(f"{v.base}/purchases/{quote(text, safe='')}")
    rows = await v.read(
        lambda c: reads.list_purchases(
            c, store.id, search=text or None, limit=PAGE + 1, offset=(page_no - 1) * PAGE
        )
    )
    total = None if text else await v.read(lambda c: dq.count_purchases(c, store.id))
    return v.render(
        "purchases.html",
        active="purchases",
        tab=tab,
        text=text,
        total=total,
        **paged(rows, page_no, v.q),
    )


async def purchase(request: Request) -> Response:
    v, store = store_view(request)
    pid = request.path_params["purchase_id"]
    found = await v.find(
        lambda c: reads.purchase_by_id(c, store.id, pid),
        "No such purchase",
        f"No purchase has the id {pid!r} in this store.",
    )
    repeats = await v.read(lambda c: dq.purchase_repeats(c, store.id, pid, limit=100))
    versions = [
        {
            "label": "Counted (first received)",
            "receivedAt": found["createdAt"],
            "channel": found["channel"],
            "totalPrice": found["totalPrice"],
            "totalQuantity": found["totalQuantity"],
            "currency": found["currency"],
            "paymentMethod": found["paymentMethod"],
            "products": found["products"],
        }
    ]
    for i, conf in enumerate(found["conflicts"], 1):
        d = conf["data"] or {}
        versions.append(
            {
                "label": f"Conflict {i} (not counted)",
                "receivedAt": conf["receivedAt"],
                "channel": conf["channel"],
                "totalPrice": d.get("totalPrice"),
                "totalQuantity": d.get("totalQuantity"),
                "currency": d.get("currency") or found["currency"],
                "paymentMethod": d.get("paymentMethod"),
                "products": d.get("products") or [],
            }
        )
    return v.render(
        "purchase.html",
        active="purchases",
        p=found,
        versions=versions,
        repeats=repeats,
        duplicates=sum(1 for r in repeats if r["status"] == "duplicate"),
    )


async def purchase_adjust(request: Request) -> Response:
    """The refund and cancel forms of the purchase page (confirmed in the browser)."""
    v, store = store_view(request)
    pid = request.path_params["purchase_id"]
    back = f"{v.base}/purchases/{quote(pid, safe='')}"
    now = to_micros(v.ctx.clock.now())
    try:
        if v.field("action") == "cancel":
            a = parse_cancellation({"reason": v.field("reason") or None}, pid, now)
        else:
            body: dict[str, Any] = {
                "refundId": v.field("refund_id") or f"dashboard-{now}",
                "reason": v.field("reason") or None,
            }
            if v.field("product"):
                qty = v.field("quantity") or "1"
                body["lines"] = [
                    {
                        "productId": v.field("product"),
                        "quantity": int(qty) if qty.isdigit() else 0,
                    }
                ]
            else:
                try:
                    body["amount"] = Decimal(v.field("amount") or "0")
                except ArithmeticError:
                    body["amount"] = Decimal(0)
            a = parse_refund(body, pid, now)
    except ApiError as exc:
        v.say("error", str(exc))
        return redirect(back)
    status, details = await v.write(write_adjustment(store.id, a, "dashboard"))
    what = "Cancellation" if a.kind == "cancellation" else f"Refund {a.adjustment_id}"
    if status == "refused":
        v.say("error", f"{what} refused: {details}")
    elif status == "conflict":
        v.say("error", f"{what}: already recorded with another content; not applied.")
    elif status == "duplicate":
        v.say("info", f"{what} was already recorded; nothing changed.")
    else:
        v.say("ok", f"{what} recorded: {details.get('amount')} {details['purchase']['currency']}.")
    return redirect(back)
