"""`serve` settles the cyclic collector before serving: what exists then is frozen out of its
passes, and a pass waits for 50,000 new objects."""

from __future__ import annotations

import gc

from shopevents.cli.server import settle_gc


def test_settle_gc_freezes_what_exists_and_raises_the_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle_gc()
        assert gc.get_freeze_count() > 10_000  # the modules and the objects loaded so far
        assert gc.get_threshold() == (50_000, 20, 20)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
