"""Which processor applies which partition: leases in a JetStream key-value bucket.

The bucket (`{PREFIX}_leases`, made by `cluster init`) keeps a key for `LEASES_TTL_SECONDS`
after its last write. A processor writes `member.{id}` and renews each lease it holds
(`p{partition}` → its id, a compare-and-set on the key's revision) every `RENEW_SECONDS`;
it takes free partitions up to its fair share, ceil(partitions / live processors), and
gives back the ones above it (after finishing the batch in hand), so that a new processor
gets its share. A processor that dies stops renewing: its leases expire and the others
take them. A lease is one partition applied by one processor at a time, in stream order.
"""

from __future__ import annotations

import logging
import math
import zlib
from typing import Any

from nats.js.errors import KeyWrongLastSequenceError, NoKeysError

from shopevents.clock import monotonic
from shopevents.cluster.streams import LEASES_TTL_SECONDS

log = logging.getLogger("shopevents.cluster")

RENEW_SECONDS = 2.0
# A lease not renewed for this long is given up here (before the bucket frees it), so that
# its partition is never applied by two processors at once.
GIVE_UP_SECONDS = LEASES_TTL_SECONDS - 2 * RENEW_SECONDS


def lease_key(partition: int) -> str:
    return f"p{partition}"


def member_key(member: str) -> str:
    return f"member.{member}"


class Leases:
    """The leases one processor holds (partition → the key's revision), kept with `beat`."""

    def __init__(self, kv: Any, member: str, partitions: int) -> None:
        self.kv = kv
        self.member = member
        self.partitions = partitions
        self.owned: dict[int, int] = {}
        self.renewed: dict[int, float] = {}
        self.share = partitions
        # Where this processor starts looking for free partitions (processors spread out).
        self._start = zlib.crc32(member.encode()) % partitions

    async def beat(self) -> tuple[set[int], set[int]]:
        """Renew membership and leases; take free partitions up to the fair share. Gives
        (taken, lost). A NATS failure is logged; leases not renewed for `GIVE_UP_SECONDS`
        are counted lost."""
        taken: set[int] = set()
        lost: set[int] = set()
        value = self.member.encode()
        try:
            await self.kv.put(member_key(self.member), value)
            self.share = math.ceil(self.partitions / max(1, await self._members()))
            for p, revision in list(self.owned.items()):
                try:
                    self.owned[p] = await self.kv.update(lease_key(p), value, last=revision)
                    self.renewed[p] = monotonic()
                except KeyWrongLastSequenceError:  # it expired and another processor took it
                    lost.add(self._drop(p))
            for i in range(self.partitions):
                if len(self.owned) >= self.share:
                    break
                p = (self._start + i) % self.partitions
                if p in self.owned:
                    continue
                try:
                    self.owned[p] = await self.kv.create(lease_key(p), value)
                except KeyWrongLastSequenceError:
                    continue  # held by another processor
                self.renewed[p] = monotonic()
                taken.add(p)
        except Exception as exc:  # NATS unreachable, no quorum, timeouts
            log.warning("processor %s: leases not renewed (%s)", self.member, exc or type(exc))
        now = monotonic()
        for p in list(self.owned):
            if now - self.renewed.get(p, now) > GIVE_UP_SECONDS:
                lost.add(self._drop(p))
        return taken, lost

    def surplus(self) -> list[int]:
        """The partitions held above the fair share (the last taken first)."""
        extra = len(self.owned) - self.share
        return sorted(self.owned, reverse=True)[: max(0, extra)]

    async def release(self, partition: int) -> None:
        """Give a lease back (its batch is applied and acknowledged)."""
        revision = self.owned.get(partition)
        self._drop(partition)
        try:
            await self.kv.delete(lease_key(partition), last=revision)
        except Exception as exc:
            log.warning("processor %s: lease p%d not released (%s)", self.member, partition, exc)

    async def leave(self) -> None:
        """Release every lease and the membership (a graceful stop)."""
        for p in list(self.owned):
            await self.release(p)
        try:
            await self.kv.delete(member_key(self.member))
        except Exception as exc:
            log.warning("processor %s: membership not removed (%s)", self.member, exc)

    def _drop(self, partition: int) -> int:
        self.owned.pop(partition, None)
        self.renewed.pop(partition, None)
        return partition

    async def _members(self) -> int:
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return 1
        return max(1, sum(1 for k in keys if k.startswith("member.")))
