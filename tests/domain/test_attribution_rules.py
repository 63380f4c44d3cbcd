"""The attribution rules on plain values (no database): how a visit is classified, what it
keeps, first and last touch; and the examples of docs/events.md are what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shopevents.domain.attribution import (
    UNATTRIBUTED,
    Touch,
    campaign_of,
    classify,
    device_of,
    first_touch,
    host_of,
    last_touch,
    read_visit,
    referrer_kind,
    visit_columns,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHOP = "https://shop.example"


@pytest.mark.parametrize(
    ("url", "referrer", "source", "name"),
    [
        (f"{SHOP}/", "https://www.google.com/search?q=mugs", "search", "google"),
        (f"{SHOP}/", "https://www.google.co.uk/", "search", "google"),
        (f"{SHOP}/", "https://www.bing.com/search?q=x", "search", "bing"),
        (f"{SHOP}/", "https://duckduckgo.com/", "search", "duckduckgo"),
        (f"{SHOP}/", "https://search.yahoo.com/search?p=x", "search", "yahoo"),
        (f"{SHOP}/", "https://yandex.ru/search/?text=x", "search", "yandex"),
        (f"{SHOP}/", "https://m.facebook.com/", "social", "facebook"),
        (f"{SHOP}/", "https://www.instagram.com/", "social", "instagram"),
        (f"{SHOP}/", "https://www.linkedin.com/feed/", "social", "linkedin"),
        (f"{SHOP}/", "https://www.pinterest.es/pin/1/", "social", "pinterest"),
        (f"{SHOP}/", "https://x.com/someone", "social", "x"),
        (f"{SHOP}/", "android-app://com.google.android.gm/", "email", "gmail"),
        (f"{SHOP}/", "android-app://org.example.reader", "referral", "org.example.reader"),
        (f"{SHOP}/", "https://mail.yahoo.com/d/folders/1", "email", "yahoo"),
        (f"{SHOP}/", "https://news.example.net/a", "referral", "news.example.net"),
        (f"{SHOP}/?utm_campaign=spring", "", "campaign", None),
        (f"{SHOP}/?UTM_MEDIUM=Newsletter&utm_source=crm", "", "email", "crm"),
        (f"{SHOP}/?UTM_SOURCE=Meta", "", "campaign", "Meta"),
        (f"{SHOP}/?msclkid=abc", "https://www.bing.com/", "campaign", "bing"),
        (f"{SHOP}/?utm_source=&utm_medium=", "", "direct", None),  # empty values: none
        (f"{SHOP}/p/1", f"{SHOP}/c/2", "internal", None),
        (f"{SHOP}/p/1", "https://www.shop.example/", "internal", None),
        (f"{SHOP}/p/1", "https://checkout.shop.example/", "internal", None),
        (None, "", "direct", None),
        (None, None, "direct", None),
    ],
)
def test_classify(url: str | None, referrer: str | None, source: str, name: str | None) -> None:
    touch = classify(url, referrer)
    assert (touch.source, touch.name) == (source, name)


def test_a_store_domain_is_internal_and_urls_may_be_percent_encoded() -> None:
    encoded = "https%3A%2F%2Fshop.example%2F%3Futm_source%3Dnews%26utm_medium%3Demail"
    assert classify(encoded, "").source == "email"
    assert classify(f"{SHOP}/", "https://pay.other-brand.example/").source == "referral"
    assert (
        classify(f"{SHOP}/", "https://pay.other-brand.example/", ["other-brand.example"]).source
        == "internal"
    )


def test_campaign_fields_are_read_and_cut() -> None:
    long = "x" * 500
    t = campaign_of(
        f"{SHOP}/?utm_source=a&utm_medium=b&utm_campaign={long}&utm_term=t&utm_content=c"
    )
    assert t == Touch("campaign", name="a", medium="b", campaign="x" * 200, term="t", content="c")
    assert campaign_of(f"{SHOP}/?q=1") is None
    assert campaign_of(f"{SHOP}/#utm_source=x") is None


def test_hosts() -> None:
    assert host_of("https://WWW.Example.COM:8443/x") == "example.com"
    assert host_of("https://www.com/") == "www.com"
    assert host_of("example.org/path") == "example.org"
    assert host_of("") is None
    assert host_of("http://[::1") is None  # unreadable: no host, never an error
    assert referrer_kind("lens.google.com") == ("search", "google")


@pytest.mark.parametrize(
    ("sources", "first", "last"),
    [
        (["campaign", "direct"], "campaign", "campaign"),  # a direct return does not override
        (["campaign", "internal", "direct", "internal"], "campaign", "campaign"),
        (["search", "email", "direct"], "search", "email"),
        (["internal", "social"], "direct", "social"),
        (["direct", "direct"], "direct", "direct"),
        ([], UNATTRIBUTED, UNATTRIBUTED),
    ],
)
def test_first_and_last_touch(sources: list[str], first: str, last: str) -> None:
    assert first_touch(sources) == first
    assert last_touch(sources) == last


def test_devices() -> None:
    assert device_of("Mobile") == "mobile"
    assert device_of("tablet") == "tablet"
    assert device_of("phone") is None
    assert device_of(3) is None


def test_what_cannot_be_read_is_left_out() -> None:
    v = read_visit(b'{"title": 3, "categories": "x", "tags": [1, " ", "ok"]}', b"[1, 2]")
    assert v.touch.source == "direct" and v.device is None
    assert v.info == {"categories": ["x"], "tags": ["ok"]}
    assert read_visit(b"not json", b'{"url": 5, "screenWidth": -1, "screenHeight": 2}').info == {}
    assert visit_columns(b"", b"") == ("direct", None, None, None, None, None)


# --- docs/events.md's examples ---------------------------------------------------------------


def _section() -> str:
    text = (DOCS / "events.md").read_text()
    start = text.index("#### Where a visit came from")
    return text[start : text.index("### `product-visited`", start)]


def _table() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in _section().splitlines():
        mt = re.match(
            r"^\| `([^`]+)` \| (?:`([^`]*)`|\(none\)) \| `(\w+)` \| (?:`([^`]*)`)? *\|$", line
        )
        if mt:
            rows.append((mt.group(1), mt.group(2) or "", mt.group(3), mt.group(4) or ""))
    return rows


def test_the_docs_table_is_what_classify_gives() -> None:
    rows = _table()
    assert len(rows) >= 10
    for url, referrer, source, name in rows:
        touch = classify(url, referrer, ["shop.example"])
        assert (touch.source, touch.name or "") == (source, name), (url, referrer)


def test_the_docs_request_is_kept_as_the_docs_visit() -> None:
    request_json, visit_json = re.findall(r"```json\n(.*?)```", _section(), re.S)
    request = json.loads(request_json)
    expected = json.loads(visit_json)
    cols = visit_columns(
        json.dumps(request["pageInfo"]).encode(), json.dumps(request["browserInfo"]).encode()
    )
    got = dict(zip(("source", "name", "medium", "campaign", "device", "info"), cols, strict=True))
    got["info"] = json.loads(got["info"])
    assert got == expected


def test_no_stored_text_holds_a_nul() -> None:
    """PostgreSQL's text refuses NUL: a referrer or campaign parameter carrying one is kept
    without it."""
    import json

    from shopevents.domain.attribution import visit_columns

    for browser in (
        {"referer": "\u0000"},
        {
            "url": "https://s.example/?utm_source=%00&utm_campaign=a%00b",
            "referrer": "https://x\u0000y/",
        },
        {"device": "\u0000"},
    ):
        got = visit_columns(b"", json.dumps(browser).encode())
        assert not any(isinstance(v, str) and "\x00" in v for v in got), (browser, got)
