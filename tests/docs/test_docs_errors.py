"""Every example in docs/errors.md's rejection and warning tables is decoded by the real
decoder, in its natural place (the field of a valid example event), and gets the code of
its row: an example that shows something else is a wrong example."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shopevents.errors import ApiError
from shopevents.schema.verdicts import (
    CheckContext,
    Verdict,
    decode_cart,
    decode_entity,
    decode_event,
    read_envelope,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
PLACEHOLDER = "\u0000raw-value"


def example(kind: str, name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / kind / f"{name}.valid.json").read_text())


# Where a field is looked for, in this order: the first valid example holding it is used.
BASES: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("events", lambda: {"events": [example("events", "purchase")]}),
    ("cart", lambda: {"cart": example("models", "cart")}),
    ("events", lambda: {"events": [{"type": "product-visited", "product": product()}]}),
    ("entityInfo", lambda: {"entityInfo": example("models", "entityInfo")}),
    ("events", lambda: {"events": [example("events", "search")]}),
    ("events", lambda: {"events": [example("events", "custom")]}),
]
# Fields no valid example holds, and the canonical field they stand for or sit beside.
STANDS_FOR = {
    "sourceType": "source_type",
    "sourceName": "source_name",
    "CartRecoveryUrl": "cartRecoveryUrl",
    "purchase_id": "purchaseId",
    "cart_id": "cartId",
    "rating": "brand",
    "discountedPercentage": "brand",
    "isBlacklisted": "brand",
    "publishedAt": "brand",
}
KEEP_BESIDE = {"rating", "discountedPercentage", "isBlacklisted", "publishedAt"}

# Examples shown as a bare value: the field they are an example of.
BARE = {
    ("normalized_value", "InStock"): "availability",
    ("normalized_value", "IN_STOCK"): "availability",
    ("normalized_value", "In Stock"): "availability",
    ("normalized_value", "SUBSCRIBED"): "_newsletterSubscriptionStatus",
    ("normalized_value", "usd"): "currency",
    ("rounded_amount", "74.70000049"): "totalPrice",
    ("future_date", "2999-01-01T00:00:00Z"): "purchaseDate",
}


def product() -> dict[str, Any]:
    p = example("models", "product")
    p["isBlacklisted"] = False
    return p


def purchase_with(change: Callable[[dict[str, Any]], None]) -> str:
    event = example("events", "purchase")
    change(event["purchase"])
    return json.dumps({"events": [event]})


def big_custom(_: None = None) -> str:
    event = example("events", "custom")
    event["payload"] = {"note": "x" * 40 * 1024}
    return json.dumps({"events": [event]})


def off_domain_line(p: dict[str, Any]) -> None:
    p["products"][0]["productDetailUrl"] = "https://other.example/p/1"


def qty_5(p: dict[str, Any]) -> None:
    p["totalQuantity"] = 5


def price_70(p: dict[str, Any]) -> None:
    p["products"][0]["price"] = 70


# Examples told in words: the example cell as written, and the body it describes.
PROSE: dict[str, tuple[str, Callable[[], str]]] = {
    "missing_field": (
        "a purchase without `purchaseId`",
        lambda: purchase_with(lambda p: p.pop("purchaseId")),
    ),
    "too_large": ("a custom event with a 40 KB payload", big_custom),
    "quantity_mismatch": ("5 against lines of 3", lambda: purchase_with(qty_5)),
    "price_mismatch": ("`price` 70 for 3 × 24.9", lambda: purchase_with(price_70)),
    "empty_products": ('`"products": []`', lambda: purchase_with(lambda p: p.update(products=[]))),
    "url_not_authorized": (
        "`https://other.example/p/1` for a store on `shop.example`",
        lambda: purchase_with(off_domain_line),
    ),
}


def replace_field(obj: Any, key: str, keep_value: bool) -> bool:
    """Put PLACEHOLDER as `key`'s value in the first object holding it (or the field it
    stands for; `keep_value`: the value it had); False if none does."""
    if isinstance(obj, dict):
        for k in list(obj):
            if k == key:
                obj[k] = obj[k] if keep_value else PLACEHOLDER
                return True
        canon = STANDS_FOR.get(key)
        if canon in obj:
            items = list(obj.items())
            obj.clear()
            for k, v in items:
                if k == canon:
                    if key in KEEP_BESIDE:
                        obj[k] = v
                    obj[key] = v if keep_value else PLACEHOLDER
                else:
                    obj[k] = v
            return True
        return any(replace_field(v, key, keep_value) for v in obj.values())
    if isinstance(obj, list):
        return any(replace_field(v, key, keep_value) for v in obj)
    return False


def body_with(key: str, raw_value: str | None) -> str:
    """A valid example body with `key` set to the raw JSON text `raw_value` (as written:
    `1e9999999999999999999` stays that text); None: `key` with the value its field had."""
    for _, make in BASES:
        body = make()
        if replace_field(body, key, raw_value is None):
            text = json.dumps(body)
            return text if raw_value is None else text.replace(json.dumps(PLACEHOLDER), raw_value)
    raise AssertionError(f"no example holds `{key}`: add it to STANDS_FOR")


def verdicts(body: str) -> list[Verdict]:
    env = read_envelope(body.encode())
    ctx = CheckContext(now=datetime.now(UTC), currency="EUR", domains=["shop.example"])
    out = [decode_event(bytes(raw), i, ctx, 32 * 1024) for i, raw in enumerate(env.events)]
    if len(env.cart):
        out.append(decode_cart(bytes(env.cart), ctx))
    if len(env.entityInfo):
        out.append(decode_entity(bytes(env.entityInfo), ctx))
    return out


def codes(body: str) -> set[str]:
    found = set()
    for v in verdicts(body):
        if v.error:
            found.add(v.error["code"])
        found.update(w["code"] for w in v.warnings)
    return found


def rows() -> list[tuple[str, str, str]]:
    """(table, code, example cell) of the rejection and warning tables."""
    text = (ROOT / "docs" / "errors.md").read_text()
    out = []
    for table in ("Rejections", "Warnings"):
        section = text.split(f"## {table}", 1)[1].split("\n## ", 1)[0]
        for line in section.splitlines():
            mt = re.match(r"\| `([a-z_]+)` \| .* \| (.*) \|$", line)
            if mt:
                out.append((table, mt.group(1), mt.group(2)))
    return out


def inputs(cell: str) -> list[str]:
    """The code spans an example cell shows as input (not after `→`, not in parentheses)."""
    spans = []
    for item in cell.split(";"):
        left = re.sub(r"\([^)]*\)", "", item.split("→", 1)[0])
        spans.extend(re.findall(r"`([^`]+)`", left))
    return spans


def bodies(code: str, cell: str) -> list[tuple[str, str]]:
    """(the example as shown, the body it stands for) for every example in the cell."""
    if code in PROSE:
        shown, make = PROSE[code]
        assert cell == shown, f"{code}: the example is now {cell!r}: update PROSE"
        return [(shown, make())]
    out = []
    for span in inputs(cell):
        if span.startswith("{"):
            out.append((span, json.dumps({"events": [json.loads(span)]})))
        elif re.match(r'^"[^"]+": ', span):
            key, raw = span.split(": ", 1)
            out.append((span, body_with(json.loads(key), raw)))
        elif code == "renamed_field" and span in STANDS_FOR:
            out.append((span, body_with(span, None)))
        elif (code, span) in BARE:
            out.append((span, body_with(BARE[code, span], json.dumps(_bare(span)))))
        else:
            raise AssertionError(f"{code}: cannot check the example `{span}`: add it to BARE")
    assert out, f"{code}: no example"
    return out


def _bare(span: str) -> Any:
    try:
        return json.loads(span)
    except ValueError:
        return span


ROWS = rows()


def test_the_tables_are_read() -> None:
    kinds = {t for t, _, _ in ROWS}
    assert kinds == {"Rejections", "Warnings"} and len(ROWS) > 20, ROWS


DEEP = "an event read on its own (a stored raw event) holding thousands of nested lists"


def test_too_deep_is_a_guard_an_ingest_body_never_reaches() -> None:
    """What the `too_deep` row says: an ingest body nested that deep is refused whole, with
    `invalid_json`, before any event is read; an event read on its own is rejected."""
    assert ("Rejections", "too_deep", DEEP) in ROWS
    deep = "[" * 5000 + "]" * 5000
    event = f'{{"type": "custom", "eventId": "e", "payload": {deep}}}'
    ctx = CheckContext(now=datetime.now(UTC), currency="EUR", domains=[])
    verdict = decode_event(event.encode(), 0, ctx, 10**9)
    assert verdict.error is not None and verdict.error["code"] == "too_deep"
    with pytest.raises(ApiError) as exc:
        read_envelope(f'{{"events": [{event}]}}'.encode())
    assert exc.value.code == "invalid_json"


def test_a_quantity_with_an_exponent_is_not_a_whole_number() -> None:
    """What the `invalid_value` row says of `1e30`."""
    assert (
        "A quantity written with an exponent (`1e30`) is not a whole number"
        in (ROOT / "docs" / "errors.md").read_text()
    )
    for field in ("quantity", "totalQuantity"):
        assert codes(body_with(field, "1e30")) == {"not_whole_number"}


@pytest.mark.parametrize(("table", "code", "cell"), ROWS, ids=[c for _, c, _ in ROWS])
def test_every_example_gets_its_code(table: str, code: str, cell: str) -> None:
    if code == "too_deep":
        return  # the test above
    for shown, body in bodies(code, cell):
        got = codes(body)
        assert code in got, f"docs/errors.md shows {shown} under `{code}`, the decoder says {got}"
        if table == "Rejections":
            rejected = {v.error["code"] for v in verdicts(body) if v.error}
            assert rejected == {code}, f"{shown}: rejected with {rejected}, not `{code}`"
