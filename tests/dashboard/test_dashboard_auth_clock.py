"""The dashboard's session cookies and login throttle age by the injected clock: moving a fixed
clock expires them, without sleeping."""

from __future__ import annotations

from datetime import timedelta

from shopevents.clock import FixedClock
from shopevents.dashboard.auth import Sessions, Throttle, new_token


def test_a_session_cookie_is_good_for_max_age_seconds_of_the_clock() -> None:
    clock = FixedClock()
    sessions = Sessions("a-secret-key-for-the-test", 3600, clock)
    token = new_token()
    cookie = sessions.dump(token)
    clock.advance(timedelta(seconds=3600))
    assert sessions.token_of(cookie) == token
    clock.advance(timedelta(seconds=2))
    assert sessions.token_of(cookie) is None
    assert sessions.token_of(sessions.dump(token)) == token  # a new cookie is good again


def test_failed_logins_are_forgotten_when_the_window_has_passed() -> None:
    clock = FixedClock()
    throttle = Throttle(clock, limit=3, window=300.0)
    for _ in range(3):
        throttle.fail("ip:10.0.0.1", "user:ana")
    assert throttle.blocked("user:ana")
    assert not throttle.blocked("user:bea")
    clock.advance(299)
    assert throttle.blocked("ip:10.0.0.1")
    clock.advance(2)
    assert not throttle.blocked("ip:10.0.0.1", "user:ana")
