"""The worker loop's rules, with steps of its own form (`async () -> bool`): it runs again at
once while a step finds work, a failing step does not stop the others, it waits out a storage
outage, it waits for work left running before `--once` ends, and it stops when told."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from shopevents.clock import FixedClock
from shopevents.config import Settings, WorkerSettings
from shopevents.errors import StorageUnavailable
from shopevents.storage.database import Conn
from shopevents.worker.loop import Worker
from shopevents.worker.steps import Step

T = TypeVar("T")


class NoDatabase:
    """A runtime whose steps never reach a database (the steps below keep their own work)."""

    def __init__(self) -> None:
        self.settings = Settings(worker=WorkerSettings(interval_seconds=0.01))
        self.clock = FixedClock()
        self.metrics: Counter[tuple[str, str]] = Counter()

    async def read(self, fn: Callable[[Conn], T]) -> T:
        raise AssertionError("no step here reads")

    async def write(self, fn: Callable[[Conn, int], T]) -> T:
        raise AssertionError("no step here writes")


class Queue:
    """A step with `due` items: each run does one; then it finds nothing."""

    def __init__(self, name: str, due: int, trace: list[str]) -> None:
        self.name = name
        self.due = due
        self.trace = trace
        self.closed = False

    async def run(self) -> bool:
        self.trace.append(self.name)
        if self.due == 0:
            return False
        self.due -= 1
        return True

    async def close(self) -> None:
        self.closed = True

    def step(self, **kw: Any) -> Step:
        return Step(self.name, self.run, close=self.close, **kw)


def test_rounds_repeat_while_a_step_finds_work_and_a_failing_step_does_not_stop_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace: list[str] = []
    a, b = Queue("a", 3, trace), Queue("b", 1, trace)

    async def broken() -> bool:
        trace.append("broken")
        raise ValueError("a bug")

    worker = Worker(NoDatabase(), [a.step(), Step("broken", broken), b.step()])
    with caplog.at_level(logging.ERROR, logger="shopevents.worker"):
        assert asyncio.run(worker.run_until_idle()) is True
    # Four rounds: three in which `a` found work (the first also `b`), one that found none.
    assert trace == ["a", "broken", "b"] * 4
    assert a.due == 0 and b.due == 0
    assert a.closed and b.closed
    assert [r.getMessage() for r in caplog.records] == ["worker step broken failed"] * 4


def test_nothing_due_is_one_round() -> None:
    trace: list[str] = []
    worker = Worker(NoDatabase(), [Queue("a", 0, trace).step()])
    assert asyncio.run(worker.run_until_idle()) is False
    assert trace == ["a"]


def test_a_storage_outage_ends_the_round_and_is_waited_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace: list[str] = []
    outages = [StorageUnavailable("connection refused")] * 2

    async def flaky() -> bool:
        trace.append("flaky")
        if outages:
            raise outages.pop()
        return False

    after = Queue("after", 1, trace)
    worker = Worker(NoDatabase(), [Step("flaky", flaky), after.step()])
    with caplog.at_level(logging.WARNING, logger="shopevents.worker"):
        assert asyncio.run(worker.run_until_idle()) is True
    # The failed rounds stop at the failing step; then two rounds run through.
    assert trace == ["flaky", "flaky", "flaky", "after", "flaky", "after"]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "storage unavailable (connection refused)" in messages[0]
    assert "storage is back" in messages[1]


def test_work_left_running_is_waited_for_before_once_ends() -> None:
    trace: list[str] = []
    in_flight = [True]

    async def settle() -> bool:
        trace.append("settle")
        return bool(in_flight and in_flight.pop())

    worker = Worker(NoDatabase(), [Queue("a", 0, trace).step(settle=settle)])
    assert asyncio.run(worker.run_until_idle()) is True
    assert trace == ["a", "settle", "a", "settle"]


def test_run_forever_stops_when_told_and_closes_its_steps() -> None:
    trace: list[str] = []
    a = Queue("a", 2, trace)

    async def main() -> None:
        worker = Worker(NoDatabase(), [a.step()])
        worker.start()
        while len(trace) < 4:  # two rounds with work, then at least one idle round
            await asyncio.sleep(0.005)
        await worker.stop()

    asyncio.run(main())
    assert trace[:3] == ["a", "a", "a"] and set(trace) == {"a"}
    assert a.due == 0 and a.closed
