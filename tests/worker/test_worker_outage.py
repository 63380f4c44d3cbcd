"""The worker tells of a storage outage once when it starts and once when it ends, and waits
longer after each failed round while it lasts."""

from __future__ import annotations

import logging

import pytest

from shopevents.errors import StorageUnavailable
from shopevents.worker.loop import OUTAGE_MAX_WAIT_SECONDS, Outage


def test_an_outage_is_told_once_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage(interval=1.0)
    with caplog.at_level(logging.WARNING, logger="shopevents.worker"):
        waits = []
        for second in range(12):
            outage.failed(StorageUnavailable("connection refused"), float(second))
            waits.append(outage.wait)
        outage.ok(40.0)
        outage.ok(41.0)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "storage unavailable (connection refused)" in messages[0]
    assert "back after 40.0 s" in messages[1]
    assert not any(r.exc_info for r in caplog.records)  # no traceback
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == OUTAGE_MAX_WAIT_SECONDS
    assert outage.wait == 1.0
