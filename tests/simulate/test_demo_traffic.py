"""`shopevents demo` against a real app on SQLite: the store it fills looks healthy (exact
amounts: no `rounded_amount` warning from float artefacts) and its purchases are spread over
the days it promises, not piled on the last one."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shopevents.cli.env import Env
from shopevents.clock import FixedClock, SystemClock, from_micros
from shopevents.config import Settings
from shopevents.jsoncodec import loads
from shopevents.simulate import Simulator, run_demo
from shopevents.storage.database import Database
from tests.conftest import LiveServer, make_store


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/demo.db"


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = LiveServer(settings, db, SystemClock()).start()
    yield srv
    srv.stop()


@pytest.mark.slow
def test_demo_traffic_is_exact_and_spread_over_the_days(
    live: LiveServer, db: Database, db_url: str
) -> None:
    make_store(db, "Demo store")
    days = 30
    run_demo(
        Env(Settings(database_url=db_url)),
        url=live.url,
        store_ref=None,
        api_key=None,
        visitors=70,
        days=days,
        abandon_after="keep",  # no waiting: every purchase carries its spread date
        seed=7,
    )
    conn = db.connect()
    try:
        warnings = Counter(
            w["code"]
            for (raw,) in conn.all("SELECT warnings FROM events WHERE warnings IS NOT NULL")
            for w in (loads(raw) or [])
        )
        bodies = [bytes(b).decode() for (b,) in conn.all("SELECT body FROM requests")]
        dates = [
            from_micros(int(at)).date() for (at,) in conn.all("SELECT purchased_at FROM purchases")
        ]
    finally:
        conn.close()
    # Exact decimals: no amount sent with a binary-float tail, so no rounding warning.
    assert warnings["rounded_amount"] == 0, warnings
    assert not any("00000000000" in b or "99999999999" in b for b in bodies)
    # The only warnings are those of the deliberate mistakes (numbers sent as text, an
    # unknown source_type), a handful, not one per purchase.
    assert sum(warnings.values()) <= 6, warnings
    # Purchases spread over the promised days.
    today = datetime.now(UTC).date()
    assert len(dates) >= 20
    assert all(today - timedelta(days=days) <= d <= today for d in dates)
    per_day = Counter(dates)
    assert len(per_day) >= 12, sorted(per_day.items())
    assert per_day[today] <= max(4, len(dates) // 6), (per_day[today], len(dates))
    assert max(per_day.values()) <= max(7, len(dates) // 4), sorted(per_day.items())
    old_half = sum(n for d, n in per_day.items() if d < today - timedelta(days=days // 2))
    assert old_half >= len(dates) // 4, (old_half, len(dates))


def test_purchase_dates_are_even_over_the_days() -> None:
    """Many draws of the demo's purchase date: every one of the 30 days gets about its
    thirtieth (the last day no more than its share), none in the future."""
    days, draws = 30, 6000
    with httpx.Client() as unused:  # purchase_date() sends nothing
        now = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
        sim = Simulator(
            unused, "store", "http://127.0.0.1", random.Random(3), days, None, FixedClock(now)
        )
        stamps = [
            datetime.fromisoformat(sim.purchase_date().replace("Z", "+00:00")) for _ in range(draws)
        ]
    assert all(now - timedelta(days=days) <= at <= now for at in stamps)
    per_day = Counter((now.date() - at.date()).days for at in stamps)
    share = draws / days
    assert set(per_day) <= set(range(days))
    for day in range(1, days):
        assert 0.7 * share <= per_day[day] <= 1.3 * share, (day, per_day[day], share)
    assert per_day[0] <= 1.3 * share, (per_day[0], share)  # today: only its hours so far
