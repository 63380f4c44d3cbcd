"""Ids: contact and tracker ids are 24 hex characters, distinct, and ordered by the instant
they were made (so rows made in one transaction land together at the end of their indexes);
every other kind keeps the shape stored rows already have."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest

from shopevents import ids
from shopevents.ids import new_id


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


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (ids.store_id, r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        (ids.api_key_id, r"key_[0-9a-f]{16}"),
        (ids.write_key_id, r"wk_[0-9a-f]{16}"),
        (ids.endpoint_id, r"whe_[0-9a-f]{20}"),
        (ids.ping_delivery_id, r"whd_[0-9a-f]{24}"),
        (ids.webhook_secret, r"whsec_[0-9a-f]{48}"),
        (ids.secret, r"[A-Za-z0-9_-]{43}"),
        (ids.hex_secret, r"[0-9a-f]{64}"),
        (ids.token, r"[0-9a-f]{16}"),
    ],
)
def test_every_kind_of_id_keeps_its_stored_shape(make: Callable[[], str], shape: str) -> None:
    made = {make() for _ in range(200)}
    assert len(made) == 200
    assert all(re.fullmatch(shape, i) for i in made), sorted(made)[:3]


def test_a_delivery_made_from_an_outbox_row_has_one_id() -> None:
    """The same outbox row and endpoint give the same id, as stored rows already have it."""
    assert ids.delivery_id(42, "whe_0123456789abcdef0123") == "whd_ecb3fa25270d07d56ce70c71"
    assert ids.delivery_id(43, "whe_0123456789abcdef0123") != ids.delivery_id(
        42, "whe_0123456789abcdef0123"
    )
