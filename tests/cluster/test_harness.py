"""The cluster-mode harness itself: the barrier waits for the processors (and says which
partition is behind when they do not come), and the mode parametrization gives cluster mode
to the tests marked for it only."""

from __future__ import annotations

import re

import pytest

from shopevents.clock import FixedClock
from shopevents.storage.database import Database
from tests.conftest import BACKENDS, CLUSTER, modes_of
from tests.natscluster import Rig
from tests.shop import Shop

pytestmark = pytest.mark.skipif(not CLUSTER, reason="cluster mode is not among the test modes")


@pytest.mark.cluster(only=True)
def test_the_barrier_waits_for_the_processors(db: Database, rig: Rig) -> None:
    shop = Shop(db, FixedClock(), rig=rig)
    try:
        for processor in rig.processors:  # nobody applies what is published
            processor.stop()
        rig.processors.clear()
        prepared = shop.prepare([{"type": "page-visit"}], tracker="t" * 24)
        (answer,) = rig.send([prepared], shop.clock, settle=False)
        assert answer["trackerId"] == "t" * 24
        with pytest.raises(AssertionError) as behind:
            rig.settle(timeout=0.5)
        # the partition the request went to: its last message, the request, is past what its
        # consumer acknowledged (a stream's numbers go on from the tests that used it before)
        said = re.search(
            r"part-\d: last (\d+), acknowledged through (\d+), 1 pending", str(behind.value)
        )
        assert said is not None and int(said[1]) > int(said[2]), behind.value
        assert shop.one("SELECT COUNT(*) FROM requests") == 0
        rig.start(processors=1)
        rig.settle()
        assert shop.one("SELECT COUNT(*) FROM requests WHERE tracker_id = ?", ("t" * 24,)) == 1
    finally:
        shop.close()


@pytest.mark.cluster
def test_a_test_marked_cluster_runs_in_every_mode(
    mode: str, request: pytest.FixtureRequest
) -> None:
    assert modes_of(request.node) == [*BACKENDS, "cluster"]
    assert mode in modes_of(request.node)


@pytest.mark.cluster
@pytest.mark.embedded("an example of a test that stays embedded")
def test_a_test_marked_embedded_does_not_run_in_cluster_mode(mode: str) -> None:
    assert mode != "cluster"
