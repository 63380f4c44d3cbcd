"""No input makes the ingest endpoint answer 500 or crash (product.md §2).

Hypothesis generates envelopes and events, each sent over real HTTP to a server on every
backend: valid-ish events of every type (each field either plausible or garbage, drawn from
the models themselves, with purchase, cart, tracker and e-mail ids from small pools so
duplicates, conflicts, carts and merges happen), garbage of every JSON shape, huge numbers,
unicode (NUL included), deep nesting, broken and gzip bodies, odd headers. Every answer is
one of 200/400/403/413 with the documented body, and a 200 accounts for every event with
documented codes.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import inspect as mi

from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.errors import CATALOG
from shopevents.schema import models as m
from shopevents.storage import reads
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    LiveServer,
    create_pg_database,
    drop_pg_database,
    ingest_path,
    make_store,
    pg_url_for,
)

ALLOWED = {200, 400, 403, 413}
# SHOPEVENTS_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite fast
EXAMPLES = int(os.environ.get("SHOPEVENTS_FUZZ_EXAMPLES", "120"))
RESULT_STATUSES = {"accepted", "duplicate", "conflict", "rejected"}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    database=None,
)


@dataclass
class Target:
    url: str
    db: Database
    http: httpx.Client
    store_id: str
    open_store_id: str


@contextlib.contextmanager
def _serve(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    name = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}"
    else:
        name = create_pg_database()
        url = pg_url_for(name)
    db = Database(url)
    db.migrate()
    store = make_store(db, "fuzz", domains=["shop.example"])
    open_store = make_store(db, "open")
    live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
    client = httpx.Client(base_url=live.url, timeout=60)
    try:
        yield Target(live.url, db, client, store.id, open_store.id)
        # the server is still up and still answers a plain request
        r = client.post(ingest_path(store.id), content=b'{"events":[{"type":"page-visit"}]}')
        assert r.status_code == 200
    finally:
        client.close()
        live.stop()
        if name:
            drop_pg_database(name)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Target]]:
    """A live server on each backend: the properties send each case they draw to every one
    (drawing a case costs more than sending it)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(_serve(b, tmp_path_factory)) for b in BACKENDS]


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, targets: list[Target]) -> Target:
    return targets[BACKENDS.index(request.param)]


# --- strategies ---------------------------------------------------------------------------

texts = st.text(max_size=40) | st.sampled_from(
    ["", " ", "\u0000", "é€😀", "a\u0000b", "<script>", "\ud7ff"]
)
huge = st.sampled_from([10**12, 10**18, 2**63, 2**64, 10**30, -(2**63) - 1, 1e300, -1e300, 1e-300])
numbers = (
    st.integers(-5, 1000)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | huge
    | st.decimals(allow_nan=False, allow_infinity=False, places=8).map(float)
)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

POOLS = {
    "purchaseId": ["P-1", "P-2", "P-3"],
    "cartId": ["0", "c-1", "c-2"],
    "productId": ["SKU-1", "SKU-2"],
    "primaryKey": ["ana@example.com", "bob@example.com", "ANA@example.com ", "x@y"],
    "trackerId": ["t" * 24, "u" * 24, "short"],
    "email": ["ana@example.com", "nobody"],
}
DATES = [
    "2024-09-13T10:49:31Z",
    "2017-09-29 14:12:37.430Z",
    "1980-05-01T00:00:00+0000",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "2999-01-01T00:00:00Z",
    "yesterday",
    "",
]


def good(t: mi.Type, name: str) -> st.SearchStrategy[Any]:
    """A plausible value for a field of this type (sometimes in the tag mode's text form)."""
    if isinstance(t, mi.UnionType):
        return st.one_of(*[good(x, name) for x in t.types if not isinstance(x, mi.NoneType)])
    if name in POOLS:
        return st.sampled_from(POOLS[name])
    if name.endswith(("Date", "At", "birthdate")):
        return st.sampled_from(DATES)
    if isinstance(t, mi.CustomType):  # Money
        amount = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)
        return amount.map(float) | amount.map(str) | st.integers(0, 1000)
    if isinstance(t, mi.IntType):
        return st.integers(0, 20) | st.integers(0, 20).map(str)
    if isinstance(t, mi.StrType):
        return st.text(min_size=t.min_length or 0, max_size=20)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values) | st.sampled_from(
            ["InStock", "IN_STOCK", "webshop", "SUBSCRIBED"]
        )
    if isinstance(t, mi.ListType):
        return st.lists(field_value(t.item_type, name), max_size=3)
    if isinstance(t, mi.StructType):
        return struct(t.cls)
    return json_values


def field_value(t: mi.Type, name: str) -> st.SearchStrategy[Any]:
    g = good(t, name)
    return st.one_of(g, g, g, json_values)  # mostly plausible, sometimes anything


@cache
def struct(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    required = {
        f.encode_name: field_value(f.type, f.encode_name) for f in info.fields if f.required
    }
    optional = {
        f.encode_name: field_value(f.type, f.encode_name) for f in info.fields if not f.required
    }
    optional.update({"sourceType": texts, "CartRecoveryUrl": texts, "purchase_id": texts})
    full = st.fixed_dictionaries(required, optional=optional)
    partial = st.fixed_dictionaries({}, optional={**required, **optional})
    extra = st.dictionaries(texts, json_values, max_size=2)
    return st.one_of(full, full, partial).flatmap(lambda d: extra.map(lambda e: {**e, **d}))


def event_of(name: str, cls: type) -> st.SearchStrategy[dict[str, Any]]:
    return struct(cls).map(lambda d: {**d, "type": name})


events = st.one_of(
    *[event_of(name, cls) for name, cls in m.EVENT_TYPES.items()],
    st.fixed_dictionaries({"type": texts | json_values}),
    json_values,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "events": st.lists(events, max_size=6) | json_values,
        "entityInfo": struct(m.EntityFields)
        | st.dictionaries(texts, json_values, max_size=3)
        | json_values,
        "cart": struct(m.Cart) | json_values,
        "pageInfo": json_values,
        "browserInfo": st.fixed_dictionaries({}, optional={"url": texts, "referer": texts})
        | json_values,
        "pushSubscription": json_values,
        "bannerPlaceholders": json_values,
        "requestId": texts | json_values,
        "": json_values,
    },
)


def deep(depth: int, opener: str) -> str:
    close = {"[": "]", "{": "}"}[opener]
    inner = '{"a":' if opener == "{" else "["
    return inner * depth + "1" + ("}" if opener == "{" else close) * depth


# --- checks -------------------------------------------------------------------------------


def check(r: httpx.Response, sent: Any = None) -> None:
    assert r.status_code in ALLOWED, (r.status_code, r.text[:2000], r.request.content[:3000])
    body = r.json()
    if r.status_code != 200:
        assert {"status", "code", "message", "errors"} <= set(body), body
        assert body["status"] == r.status_code
        assert CATALOG[body["code"]].status == r.status_code
        return
    assert isinstance(body["trackerId"], str) and body["trackerId"]
    if (
        isinstance(sent, dict)
        and isinstance(sent.get("events"), list)
        and not body.get("duplicateRequest")
    ):
        assert [x["index"] for x in body["results"]] == list(range(len(sent["events"])))
    for res in body["results"]:
        assert res["status"] in RESULT_STATUSES, res
        if res["status"] == "rejected":
            assert CATALOG[res["code"]].kind == "rejection", res
            assert res["path"].startswith(f"/events/{res['index']}"), res
            assert res["message"]
        for w in res["warnings"]:
            assert CATALOG[w["code"]].kind == "warning", w
            assert w["path"].startswith(f"/events/{res['index']}"), w
    for part in ("cart", "entityInfo"):
        if part in body:
            assert body[part]["status"] in {"accepted", "rejected"}, body[part]
            for w in body[part]["warnings"]:
                assert CATALOG[w["code"]].kind == "warning", w
                assert w["path"].startswith(f"/{part}"), w


def send(t: Target, body: bytes, store_id: str | None = None, **headers: str) -> httpx.Response:
    return t.http.post(
        ingest_path(store_id or t.open_store_id),
        content=body,
        headers={"Content-Type": "text/plain", **headers},
    )


# --- properties ---------------------------------------------------------------------------


@pytest.mark.slow
@FUZZ
@given(envelope=envelopes)
def test_envelopes_never_500(targets: list[Target], envelope: dict[str, Any]) -> None:
    for target in targets:
        check(send(target, json.dumps(envelope).encode()), envelope)


@pytest.mark.slow
@FUZZ
@given(
    evs=st.lists(
        st.one_of(*[event_of(n, c) for n, c in m.EVENT_TYPES.items()]), min_size=1, max_size=4
    ),
    info=st.none() | struct(m.EntityFields),
    cart=st.none() | struct(m.Cart),
)
def test_valid_ish_events_of_every_type_never_500(
    targets: list[Target], evs: list[dict[str, Any]], info: Any, cart: Any
) -> None:
    envelope: dict[str, Any] = {"events": evs}
    if info is not None:
        envelope["entityInfo"] = info
    if cart is not None:
        envelope["cart"] = cart
    for target in targets:
        check(send(target, json.dumps(envelope).encode(), target.store_id), envelope)


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 60 // 120))
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_bodies_never_500(targets: list[Target], raw: bytes) -> None:
    for target in targets:
        check(send(target, raw))


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 60 // 120))
@given(
    envelope=envelopes, cut=st.integers(0, 400), flip=st.integers(0, 400), byte=st.integers(0, 255)
)
def test_broken_json_never_500(
    targets: list[Target], envelope: Any, cut: int, flip: int, byte: int
) -> None:
    body = bytearray(json.dumps(envelope).encode())
    if body and flip < len(body):
        body[flip] = byte
    for target in targets:
        check(send(target, bytes(body[: max(cut, len(body) // 2)])))


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 25 // 120))
@given(
    depth=st.integers(1, 20_000),
    opener=st.sampled_from("[{"),
    where=st.sampled_from(["payload", "top", "event", "cart"]),
)
def test_deep_nesting_never_500(targets: list[Target], depth: int, opener: str, where: str) -> None:
    nested = deep(depth, opener)
    body = {
        "payload": '{"events":[{"type":"custom","eventId":"e","payload":{"x":%s}}]}',
        "top": '{"x":%s}',
        "event": '{"events":[%s]}',
        "cart": '{"cart":{"cartId":"c","totalQuantity":0,"totalPrice":0,"products":[%s]}}',
    }[where] % nested
    for target in targets:
        check(send(target, body.encode()))


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 40 // 120))
@given(envelope=envelopes, mode=st.sampled_from(["gzip", "bad", "truncated", "x-gzip", "identity"]))
def test_gzip_bodies_never_500(targets: list[Target], envelope: Any, mode: str) -> None:
    raw = json.dumps(envelope).encode()
    body = {
        "gzip": gzip.compress(raw),
        "x-gzip": gzip.compress(raw),
        "bad": b"\x1f\x8b\x08\x00" + raw[:50],
        "truncated": gzip.compress(raw)[:-4],
        "identity": raw,
    }[mode]
    for target in targets:
        r = send(target, body, **{"Content-Encoding": "gzip" if mode != "x-gzip" else "x-gzip"})
        check(r, envelope if mode in ("gzip", "x-gzip") else None)
        if mode in ("gzip", "x-gzip"):
            plain = send(target, raw)
            assert r.status_code == plain.status_code


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(
    str.strip
)


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 60 // 120))
@given(
    origin=header_text
    | st.sampled_from(
        ["https://shop.example", "https://www.shop.example", "null", "https://evil.example"]
    ),
    ctype=header_text,
    method_open=st.booleans(),
)
def test_headers_never_500(
    targets: list[Target], origin: str, ctype: str, method_open: bool
) -> None:
    for target in targets:
        store = target.open_store_id if method_open else target.store_id
        r = target.http.post(
            ingest_path(store),
            content=b'{"events":[{"type":"page-visit"}]}',
            headers={"Origin": origin, "Content-Type": ctype},
        )
        check(r)
        pre = target.http.options(
            ingest_path(store), headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code in {204, 403}, pre.text


@pytest.mark.slow
@settings(FUZZ, max_examples=max(1, EXAMPLES * 40 // 120))
@given(store_id=st.text(st.characters(codec="utf-8"), max_size=80))
def test_any_store_id_never_500(targets: list[Target], store_id: str) -> None:
    path = "/integration-type/system/scrippet-notification/" + quote(store_id, safe="")
    for target in targets:
        r = target.http.post(path, content=b"{}")
        assert r.status_code in {200, 307, 403, 404, 405}, r.text  # 307: an empty id


def test_many_purchases_of_the_same_contact_never_overflow(target: Target) -> None:
    """Ten purchases of just under 1e12 for one contact: the aggregate goes past 2**63 millionths."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    for i in range(10):
        envelope = {
            "events": [
                {
                    "type": "purchase",
                    "purchase": {
                        "purchaseId": f"BIG-{email}-{i}",
                        "totalQuantity": 0,
                        "totalPrice": 999_999_999_999,
                        "products": [],
                    },
                }
            ],
            "entityInfo": {"primaryKey": email},
        }
        r = send(target, json.dumps(envelope).encode(), target.open_store_id)
        assert r.status_code == 200, r.text
    with target.db.reader() as c:
        contact = reads.contact_by_email(c, target.open_store_id, email)
    assert contact is not None
    assert contact["_totalPurchases"] == 10
    assert Decimal(str(contact["_totalPurchasesAmount"])) == Decimal("9999999999990")


# --- what the fuzzer found, pinned -------------------------------------------------------------

FOUND = [
    # invalid UTF-8 inside an event: the envelope decoder skips it unchecked
    (b'{"events":[{"type":"\x80age-visit"}]}', 400),
    (b'{"cart":{"cartId":"\xc3","totalQuantity":0,"totalPrice":0}}', 400),
    # an empty requestId twice: stored as a key but never looked up
    (b'{"requestId": ""}', 200),
    (b'{"requestId": ""}', 200),
    # nesting deeper than the decoder's recursion limit
    (b'{"x":' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    # NUL in text columns (PostgreSQL refuses it)
    (json.dumps({"events": [{"type": "x\u0000"}]}).encode(), 200),
    (json.dumps({"requestId": "r\u0000"}).encode(), 400),
    (
        json.dumps({"entityInfo": {"trackerId": "\u0000", "primaryKey": "a\u0000@b.co"}}).encode(),
        200,
    ),
    # quantities past what storage holds, dates past year 9999 once in UTC
    (
        json.dumps(
            {
                "events": [
                    {
                        "type": "purchase",
                        "purchase": {
                            "purchaseId": "Q",
                            "totalQuantity": 10**20,
                            "totalPrice": 1,
                            "products": [],
                        },
                    }
                ]
            }
        ).encode(),
        200,
    ),
    (
        json.dumps(
            {
                "events": [
                    {
                        "type": "purchase",
                        "purchase": {
                            "purchaseId": "D",
                            "totalQuantity": 0,
                            "totalPrice": 1,
                            "products": [],
                            "purchaseDate": "9999-12-31T23:00:00-23:00",
                        },
                    }
                ]
            }
        ).encode(),
        200,
    ),
]


@pytest.mark.parametrize(("body", "status"), FOUND, ids=[str(i) for i in range(len(FOUND))])
def test_found_by_fuzzing(target: Target, body: bytes, status: int) -> None:
    r = send(target, body)
    check(r)
    assert r.status_code == status, r.text
