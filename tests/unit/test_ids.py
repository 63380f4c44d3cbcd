"""Contact and tracker ids: 24 hex characters, distinct, and ordered by the instant they were
made (so rows made in one transaction land together at the end of their indexes)."""

from __future__ import annotations

import itertools
import re

from shopevents.domain.identity import new_id


def test_ids_are_24_hex_and_distinct() -> None:
    ids = {new_id(1_700_000_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)


def test_ids_sort_by_the_microsecond_they_were_made_at() -> None:
    instants = [1_700_000_000_000_000 + k for k in (0, 1, 2, 999_999, 1_000_000, 5_123_456)]
    for earlier, later in itertools.pairwise(instants):
        assert max(new_id(earlier) for _ in range(50)) < min(new_id(later) for _ in range(50))


def test_the_seconds_come_first_as_in_an_object_id() -> None:
    assert new_id(1_700_000_000_250_000).startswith(f"{1_700_000_000:08x}{250_000:05x}")
