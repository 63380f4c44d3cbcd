"""Bot detection (docs/privacy.md#bots), without a database: the crawlers of CrawlerDetect's
own test data and current headless browsers are bots, current browsers are not (the rates
docs/privacy.md gives are measured here), a missing User-Agent is a bot, an HTTP library is
not, and the per-UA cache is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopevents.domain import bots

DATA = Path(__file__).resolve().parents[1] / "data"


def agents(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


BOTS = agents("bot_user_agents.txt")
BROWSERS = agents("browser_user_agents.txt")


def test_the_lists_are_large_enough_to_measure() -> None:
    assert len(BOTS) >= 300 and len(set(BOTS)) == len(BOTS)
    assert len(BROWSERS) >= 300 and len(set(BROWSERS)) == len(BROWSERS)


def test_no_browser_of_a_person_is_a_bot() -> None:
    flagged = [(ua, bots.reason(ua)) for ua in BROWSERS if bots.is_bot(ua)]
    assert flagged == []  # 0 of 407: the false-positive rate docs/privacy.md gives


def test_crawlers_are_bots_but_http_libraries() -> None:
    missed = [ua for ua in BOTS if not bots.is_bot(ua)]
    # Only HTTP libraries go unflagged, by design (9 of 386: docs/privacy.md#bots).
    assert all(bots.HTTP_LIBRARIES.match(ua) for ua in missed), missed
    assert len(missed) <= 9
    libraries = [ua for ua in BOTS if bots.HTTP_LIBRARIES.match(ua)]
    assert len(libraries) == len(missed)


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/131.0.0.0 Safari/537.36", "headless"),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
         "PhantomJS/2.1.1 Safari/538.1", "headless"),
        ("Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/127.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", "headless"),
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/119.0.0.0 Safari/537.36 puppeteer", "headless"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "crawler"),
        ("", "no_user_agent"),
        ("   ", "no_user_agent"),
        (None, "no_user_agent"),
        ("curl/8.5.0", None),
        ("python-httpx/0.27.0", None),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", None),
    ],
)  # fmt: skip
def test_reasons(ua: str | None, why: str | None) -> None:
    assert bots.reason(ua) == why


def test_results_are_cached_per_user_agent_in_a_bounded_lru() -> None:
    bots._reason.cache_clear()
    for ua in BROWSERS[:10]:
        bots.reason(ua)
        bots.reason(ua)
    info = bots._reason.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (10, 10, bots.CACHE_SIZE)
    long_ua = "Mozilla/5.0 " + "x" * 100_000  # judged, and cached, on its first characters
    assert bots.reason(long_ua) == bots.reason(long_ua[: bots.MAX_UA])
