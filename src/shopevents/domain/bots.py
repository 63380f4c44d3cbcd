"""Bots: crawlers and headless browsers that run a store's pages (docs/privacy.md#bots).

Detected once per browser ingest request from its `User-Agent` header: the crawler patterns
of CrawlerDetect (a port of JayBizzle's library), plus headless markers it may not know, plus
a missing header. Results are cached per User-Agent string in a bounded LRU, so a request
from a UA seen before costs a dictionary lookup.

HTTP libraries and command-line clients (curl, python-httpx, node-fetch...) are not counted
as bots: the ingest endpoint is reached by code that runs the page's script (a browser, or a
headless one) or by the store's own back end and tools, and those are the latter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from crawlerdetect import CrawlerDetect

from shopevents.domain import outbox
from shopevents.storage import contacts
from shopevents.storage.database import Conn

CACHE_SIZE = 4096
MAX_UA = 1000  # a longer header is judged on its first characters

HEADLESS = re.compile(
    r"headlesschrome|headless chrome|phantomjs|lighthouse|puppeteer|playwright|selenium|"
    r"webdriver|slimerjs|splash|htmlunit|nightmare|zombie\.js",
    re.IGNORECASE,
)
HTTP_LIBRARIES = re.compile(
    r"^(curl|wget|python-httpx|python-requests|python-urllib|python/|aiohttp|httpx|"
    r"node-fetch|undici|axios|got |okhttp|go-http-client|java/|apache-httpclient|"
    r"libwww-perl|guzzlehttp|httpie|postmanruntime|insomnia|ruby|faraday|dart:io)",
    re.IGNORECASE,
)

_detector = CrawlerDetect()


@lru_cache(maxsize=CACHE_SIZE)
def _reason(user_agent: str) -> str | None:
    ua = user_agent.strip()
    if not ua:
        return "no_user_agent"
    if HEADLESS.search(ua):
        return "headless"
    if HTTP_LIBRARIES.match(ua):
        return None
    if _detector.is_crawler(ua):
        return "crawler"
    return None


def reason(user_agent: str | None) -> str | None:
    """Why a request with this User-Agent is a bot (`crawler`, `headless`,
    `no_user_agent`), or None for a person's browser."""
    return _reason((user_agent or "")[:MAX_UA])


def is_bot(user_agent: str | None) -> bool:
    return reason(user_agent) is not None


# --- in the intake transaction ------------------------------------------------------------


@contextmanager
def quiet(conn: Conn) -> Iterator[None]:
    """While a bot's request is applied: `outbox.emit` writes nothing."""
    conn.memo(outbox.Quiet)
    try:
        yield
    finally:
        conn.forget_memo(outbox.Quiet)


def flag(
    conn: Conn,
    store_id: str,
    request_id: int,
    why: str | None,
    kept: bool,
    contact_id: str,
    created: bool,
) -> None:
    """Record a bot's request (`why` its reason) and flag the contact it created; or, for a
    person's request that identifies the contact (`why` None), clear the contact's flag."""
    if why is None:
        contacts.set_bot(conn, contact_id, False)
        return
    contacts.add_bot_request(conn, request_id, store_id, why, kept)
    if created:
        contacts.set_bot(conn, contact_id, True)
