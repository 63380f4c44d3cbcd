"""The tests' own 3-node NATS JetStream cluster: three servers, one meta leader, and a stream
replicated to all three takes a publish."""

from __future__ import annotations

import nats
import pytest

from tests.conftest import CLUSTER
from tests.natscluster import LoopThread, NatsCluster

pytestmark = pytest.mark.skipif(not CLUSTER, reason="cluster mode is not among the test modes")


def test_three_nodes_one_leader_and_a_replicated_stream(
    nats_cluster: NatsCluster, nats_loop: LoopThread
) -> None:
    meta = nats_cluster.jsz()["meta_cluster"]
    assert meta["cluster_size"] == 3 and meta["leader"] in {"n1", "n2", "n3"}
    assert {nats_cluster.jsz(i)["meta_cluster"]["leader"] for i in range(3)} == {meta["leader"]}

    async def roundtrip() -> tuple[int, int, int]:
        nc = await nats.connect(servers=nats_cluster.urls)
        try:
            js = nc.jetstream()
            info = await js.add_stream(name="PROBE", subjects=["probe.>"], num_replicas=3)
            ack = await js.publish("probe.x", b"hello")
            got = await js.get_last_msg("PROBE", "probe.x")
            replicas = 1 + len(info.cluster.replicas or [])  # type: ignore[union-attr]
            await js.delete_stream("PROBE")
            return ack.seq, int(got.seq or 0), replicas
        finally:
            await nc.close()

    assert nats_loop.run(roundtrip()) == (1, 1, 3)
