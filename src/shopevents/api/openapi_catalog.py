"""The OpenAPI operations of the catalog, carts and the store's settings
(`products_routes`, `reads_routes`, `carts_routes`)."""

from __future__ import annotations

from shopevents.api.openapi_common import (
    BODY_ERRORS,
    LIMIT,
    NO_NUL,
    NOT_JSON,
    SEARCH_TEXT,
    Op,
    query,
    string_id,
)
from shopevents.api.shapes.catalog import (
    CartPage,
    CartWithHistory,
    Product,
    ProductPage,
    ProductWritten,
    Store,
)
from shopevents.api.shapes.requests import StorePatch
from shopevents.schema import models as m

PRODUCT = "/api/products/product-id/{product_id:text}"
PRODUCT_ID = {"productId": string_id("The store's product id")}
CART_STATES = ["active", "empty", "purchased", "abandoned", "recovered"]

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", PRODUCT): Op(
        "A catalog product by the store's product id",
        "getProduct",
        {200: ("The product", Product)},
        {404: "No such product"},
        paths=PRODUCT_ID,
    ),
    ("PATCH", PRODUCT): Op(
        "Create or update a product (fields given replace the stored ones)",
        "patchProduct",
        {200: ("Updated", ProductWritten), 201: ("Created", ProductWritten)},
        BODY_ERRORS,
        paths=PRODUCT_ID,
        request=m.ProductCreation,
    ),
    ("GET", "/api/products"): Op(
        "The catalog in productId order, keyset-paged; by a fragment of the id or name",
        "listProducts",
        {200: ("A page of products", ProductPage)},
        query=(
            query("limit", LIMIT, "Items per page (50)"),
            query(
                "cursor",
                SEARCH_TEXT,
                "The previous page's `nextCursor`",
            ),
            query("q", SEARCH_TEXT),
        ),
    ),
    ("GET", "/api/carts"): Op(
        "Carts, newest first, filtered by state and contact",
        "listCarts",
        {200: ("A page of carts", CartPage)},
        query=(
            query("status", {"enum": CART_STATES}),
            query("contact", {"type": "string", "pattern": NO_NUL}),
            query("limit", LIMIT),
            query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000000}),
        ),
    ),
    ("GET", "/api/carts/{cart_key}"): Op(
        "One cart with its lines, totals and history of transitions",
        "getCart",
        {200: ("The cart", CartWithHistory)},
        {404: "No such cart"},
        paths={"cartKey": string_id("The cart's key (from a list or a webhook)")},
    ),
    ("GET", "/api/store"): Op("The store's settings", "getStore", {200: ("The store", Store)}),
    ("PATCH", "/api/store"): Op(
        "Change the store's settings (e.g. abandonAfterSeconds)",
        "patchStore",
        {200: ("The store", Store)},
        {400: NOT_JSON},
        request=StorePatch,
    ),
}
