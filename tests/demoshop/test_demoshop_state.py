"""The demo shop's cookie: what it writes it reads back; anything malformed is dropped."""

from __future__ import annotations

import base64

import pytest

from shopevents.demoshop.state import State


def _cookie(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[" * 2600, b'"a string"', b"\xff\xfe", b'{"cart": 5}'],
    ids=["not-json", "nested-too-deep", "not-an-object", "not-utf8", "cart-not-an-object"],
)
def test_a_malformed_cookie_is_dropped(raw: bytes) -> None:
    state = State.decode(_cookie(raw))
    assert state.encode() == State().encode()


def test_a_cookie_too_long_is_dropped() -> None:
    assert State.decode("e" * 3501).encode() == State().encode()
