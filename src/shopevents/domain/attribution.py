"""Traffic sources: what brought a visit, and which visit a purchase or a cart owes to.

Rules on plain values (no database), used by ingest (classify each page visit) and by the
sources report (first and last touch). See docs/events.md (what a visit keeps) and
docs/reports.md (the attribution rule).

**A visit's source**, decided in this order:

1. the page URL's campaign parameters: `utm_medium` of `email`, `e-mail`, `mail` or
   `newsletter` → `email`; any other `utm_source`, `utm_medium` or `utm_campaign` →
   `campaign`; no `utm_*` but a `gclid` (Google Ads) or `msclkid` (Microsoft Ads) →
   `campaign` (source google / bing, medium cpc);
2. no referrer → `direct`;
3. a referrer on the page's own host or one of the store's authorised domains → `internal`
   (a page of the same visit: not a new touch);
4. a referrer in the tables below: webmail → `email`, search engine → `search`, social
   network → `social` (an Android app's `android-app://PACKAGE` referrer by its package);
5. any other referrer → `referral`.

The tables are ours (no maintained PyPI package classifies referrers: `referer-parser` was
last released in 2016 and `pyreferrer` in 2021); they are matched on the referrer's host
and its parent domains, and `*` stands for any country code or top-level domain
(`google.*` matches google.com, google.es and google.co.uk).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

SOURCES = ("direct", "search", "social", "email", "campaign", "referral", "internal")
"""Every value of a visit's `source`. `internal` is never a touch (see `last_touch`)."""
NOT_A_TOUCH = frozenset({"direct", "internal"})
UNATTRIBUTED = "unattributed"
"""First and last touch of a purchase or cart whose contact had no visit before it (a REST
or point-of-sale purchase, a contact known only by e-mail)."""

EMAIL_MEDIUMS = frozenset({"email", "e-mail", "mail", "newsletter"})

WEBMAIL = (
    "mail.google.com",
    "outlook.live.com",
    "outlook.office.com",
    "outlook.office365.com",
    "mail.yahoo.com",
    "mail.aol.com",
    "mail.proton.me",
    "mail.zoho.com",
    "mail.yandex.*",
    "webmail.*",
)
SEARCH_ENGINES = (
    "google.*",
    "bing.com",
    "search.yahoo.com",
    "yahoo.*",
    "duckduckgo.com",
    "baidu.com",
    "yandex.*",
    "ya.ru",
    "ecosia.org",
    "qwant.com",
    "startpage.com",
    "search.brave.com",
    "naver.com",
    "seznam.cz",
    "ask.com",
    "search.aol.com",
    "sogou.com",
)
SOCIAL_NETWORKS = (
    "facebook.com",
    "fb.com",
    "instagram.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "pinterest.*",
    "reddit.com",
    "tiktok.com",
    "youtube.com",
    "youtu.be",
    "snapchat.com",
    "tumblr.com",
    "vk.com",
    "whatsapp.com",
    "wa.me",
    "t.me",
    "telegram.org",
    "threads.net",
    "bsky.app",
    "mastodon.social",
    "quora.com",
    "weibo.com",
    "xing.com",
)

ANDROID_APPS = {
    "com.google.android.gm": ("email", "gmail"),
    "com.microsoft.office.outlook": ("email", "outlook"),
    "com.google.android.googlequicksearchbox": ("search", "google"),
    "com.facebook.katana": ("social", "facebook"),
    "com.instagram.android": ("social", "instagram"),
    "com.twitter.android": ("social", "twitter"),
    "com.linkedin.android": ("social", "linkedin"),
    "com.pinterest": ("social", "pinterest"),
    "com.reddit.frontpage": ("social", "reddit"),
    "com.whatsapp": ("social", "whatsapp"),
    "org.telegram.messenger": ("social", "telegram"),
    "com.zhiliaoapp.musically": ("social", "tiktok"),
}
"""Referrers `android-app://PACKAGE/` (Android apps that opened the page): by package."""


def _pattern(domains: Sequence[str]) -> re.Pattern[str]:
    """One regex matching a host that is one of `domains` or under one of them; `name.*`
    takes any one- or two-label ending (`.es`, `.co.uk`)."""
    alts = []
    for d in domains:
        if d.endswith(".*"):
            alts.append(re.escape(d[:-2]) + r"\.[a-z0-9-]+(?:\.[a-z]{2})?")
        else:
            alts.append(re.escape(d))
    return re.compile(r"(?:^|\.)(?:" + "|".join(alts) + r")$")


_TABLES = (
    ("email", _pattern(WEBMAIL)),
    ("search", _pattern(SEARCH_ENGINES)),
    ("social", _pattern(SOCIAL_NETWORKS)),
)
_NAME = re.compile(r"(?:^|\.)([a-z0-9-]+)\.(?:[a-z]{2,3}\.)?[a-z]{2,}$")
_STRIP = ("www.", "m.", "l.", "lm.", "mobile.")
MAX_TEXT = 200
"""Longest campaign value or name kept (longer is cut)."""


class Touch(msgspec.Struct, omit_defaults=True, frozen=True):
    """What brought one visit: the `source` (one of SOURCES), its `name` (utm_source, the
    search engine or social network, or the referring host), and the campaign fields."""

    source: str
    name: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None


DIRECT = Touch("direct")
INTERNAL = Touch("internal")


def host_of(url: str | None) -> str | None:
    """The lower-case host of a URL (without port or a leading www., m.), or None."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    for prefix in _STRIP:
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix) :]
            break
    return host


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _cut(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:MAX_TEXT] or None


def campaign_of(url: str | None) -> Touch | None:
    """The campaign a landing URL names (`utm_*`, else `gclid` / `msclkid`), or None."""
    if not url or "?" not in url:
        return None
    query = url.split("?", 1)[1].split("#", 1)[0]
    low = query.lower()
    if "utm_" not in low and "clid=" not in low and "clkid=" not in low:
        return None
    params: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=False):
        params.setdefault(k.lower(), v)
    source = _cut(params.get("utm_source"))
    medium = _cut(params.get("utm_medium"))
    name = _cut(params.get("utm_campaign"))
    if source or medium or name:
        kind = "email" if medium and medium.lower() in EMAIL_MEDIUMS else "campaign"
        return Touch(
            kind,
            name=source,
            medium=medium,
            campaign=name,
            term=_cut(params.get("utm_term")),
            content=_cut(params.get("utm_content")),
        )
    if "gclid" in params:
        return Touch("campaign", name="google", medium="cpc")
    if "msclkid" in params:
        return Touch("campaign", name="bing", medium="cpc")
    return None


def referrer_kind(host: str) -> tuple[str, str]:
    """(source, name) of an outside referring host: email, search, social or referral."""
    for kind, pattern in _TABLES:
        if pattern.search(host):
            mt = _NAME.search(host)
            return kind, (mt.group(1) if mt else host)
    return "referral", host


def classify(url: str | None, referrer: str | None, own_domains: Iterable[str] = ()) -> Touch:
    """The source of a visit to `url` (the page, as sent: percent-encoded or not) that came
    from `referrer`; `own_domains` are the store's authorised domains."""
    low = url.lower() if url else ""
    marked = "utm_" in low or "clid" in low or "clkid" in low
    if not referrer and not marked:  # the common page view: nothing to read
        return DIRECT
    if url and "%" in url and "://" not in url[:12]:
        url = unquote(url)
    found = campaign_of(url)
    if found is not None:
        return found
    if referrer and "%" in referrer and "://" not in referrer[:12]:
        referrer = unquote(referrer)
    ref = host_of(referrer)
    if ref is None:
        return DIRECT
    if referrer and referrer[:14].lower() == "android-app://":
        kind, name = ANDROID_APPS.get(ref, ("referral", ref))
        return Touch(kind, name=name[:MAX_TEXT])
    page = host_of(url)
    if page is not None and _under(ref, page):
        return INTERNAL
    for d in own_domains:
        own = host_of(d)
        if own is not None and _under(ref, own):
            return INTERNAL
    kind, name = referrer_kind(ref)
    return Touch(kind, name=name[:MAX_TEXT])


# --- attribution of a purchase or a cart -----------------------------------------------------


def first_touch(sources_in_order: Sequence[str]) -> str:
    """The first visit's source (`internal` reads as `direct`: the visitor's first tracked
    page came from within the site); `unattributed` when there was no visit."""
    if not sources_in_order:
        return UNATTRIBUTED
    first = sources_in_order[0]
    return "direct" if first in NOT_A_TOUCH else first


def last_touch(sources_in_order: Sequence[str]) -> str:
    """The last source before the purchase or cart that is not `direct` (nor `internal`):
    a direct return never overrides the campaign, search, e-mail... that brought the
    visitor; `direct` when every visit was direct, `unattributed` when there was none."""
    for source in reversed(sources_in_order):
        if source not in NOT_A_TOUCH:
            return source
    return "direct" if sources_in_order else UNATTRIBUTED


DEVICES = ("desktop", "mobile", "tablet")


def device_of(value: object) -> str | None:
    """browserInfo.device as one of DEVICES (case-insensitive), else None."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in DEVICES:
            return v
    return None


# --- what a page visit keeps ------------------------------------------------------------------


class _PageInfo(msgspec.Struct):
    categories: object = None
    title: object = None
    keywords: object = None
    tags: object = None


class _BrowserInfo(msgspec.Struct):
    url: object = None
    referer: object = None
    referrer: object = None
    device: object = None
    language: object = None
    platform: object = None
    screenWidth: object = None
    screenHeight: object = None


class _PageTyped(msgspec.Struct):
    categories: list[str] | None = None
    title: str | None = None
    keywords: list[str] | str | None = None
    tags: list[str] | None = None


class _BrowserTyped(msgspec.Struct):
    url: str | None = None
    referer: str | None = None
    referrer: str | None = None
    device: str | None = None
    language: str | None = None
    platform: str | None = None
    screenWidth: int | None = None
    screenHeight: int | None = None


# The typed decoders read what the client script sends in one pass; anything else (a field
# of another type) is read again by the loose ones, which keep what they can.
_page_typed = msgspec.json.Decoder(_PageTyped | None)
_browser_typed = msgspec.json.Decoder(_BrowserTyped | None)
_page_decoder = msgspec.json.Decoder(_PageInfo | None)
_browser_decoder = msgspec.json.Decoder(_BrowserInfo | None)


def _decode(raw: bytes, typed: msgspec.json.Decoder[Any], loose: msgspec.json.Decoder[Any]) -> Any:
    if not raw:
        return None
    try:
        return typed.decode(raw)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        return None
    try:
        return loose.decode(raw)
    except msgspec.DecodeError:
        return None


MAX_LIST = 10
MAX_ITEM = 100


class Visit(msgspec.Struct, frozen=True):
    """A page visit's attribution (`touch`, `device`) and the compact rest of its pageInfo
    and browserInfo (`info`: only what was sent, short keys; JSON, or None when empty)."""

    touch: Touch
    device: str | None
    info: dict[str, object]


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value[:limit] or None
    return None


def _texts(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # keywords as one text, as some pages send them
        value = value.split(",")
    elif not isinstance(value, list):
        return None
    out = []
    for v in value[:MAX_LIST]:
        if isinstance(v, str):
            v = v.strip()
            if v:
                out.append(v[:MAX_ITEM])
    return out or None


def read_visit(page_raw: bytes, browser_raw: bytes, own_domains: Iterable[str] = ()) -> Visit:
    """A visit from the envelope's raw pageInfo and browserInfo (either may be empty or not
    an object: what cannot be read is left out, never an error)."""
    page = _decode(page_raw, _page_typed, _page_decoder)
    browser = _decode(browser_raw, _browser_typed, _browser_decoder)
    info: dict[str, object] = {}
    url = referrer = None
    device = None
    if browser is not None:
        url = _text(browser.url, 4000)
        referrer = _text(browser.referer, 4000) or _text(browser.referrer, 4000)
        device = device_of(browser.device)
        for key, value in (("language", browser.language), ("platform", browser.platform)):
            text = _text(value, 50)
            if text:
                info[key] = text
        w, h = browser.screenWidth, browser.screenHeight
        if isinstance(w, int) and isinstance(h, int) and 0 < w < 100_000 and 0 < h < 100_000:
            info["screen"] = f"{w}x{h}"
    touch = classify(url, referrer, own_domains)
    if referrer and touch.source not in NOT_A_TOUCH:
        if "%" in referrer and "://" not in referrer[:12]:
            referrer = unquote(referrer)
        info["referrer"] = referrer[:500]
    if page is not None:
        title = _text(page.title)
        if title:
            info["title"] = title
        for key, value in (
            ("categories", page.categories),
            ("keywords", page.keywords),
            ("tags", page.tags),
        ):
            texts = _texts(value)
            if texts:
                info[key] = texts
    return Visit(touch, device, info)


_encode = msgspec.json.Encoder().encode


def visit_columns(
    page_raw: bytes, browser_raw: bytes, own_domains: Iterable[str] = ()
) -> tuple[str, str | None, str | None, str | None, str | None, str | None]:
    """What storage keeps of a page visit: (source, name, medium, campaign, device, info as
    compact JSON or None). utm_term and utm_content go in `info` as `term` and `content`."""
    v = read_visit(page_raw, browser_raw, own_domains)
    t = v.touch
    info = v.info
    if t.term or t.content:
        info = {**info}
        if t.term:
            info["term"] = t.term
        if t.content:
            info["content"] = t.content
    return (
        t.source,
        _no_nul(t.name),
        _no_nul(t.medium),
        _no_nul(t.campaign),
        _no_nul(v.device),
        _encode(info).decode() if info else None,
    )


def _no_nul(text: str | None) -> str | None:
    """A text fit for storage: PostgreSQL's text refuses NUL characters (a referrer or a
    campaign parameter may carry one, as `%00`)."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "") or None
