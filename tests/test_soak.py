"""10,000 actors wake, go idle and sleep; afterwards the node holds nothing for them."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

from actorkit import Actor, Registry, action
from actorkit.testing import MockClock
from runtime_helpers import node_of, wait_for


class Tenant(Actor):
    state = {"hits": 0, "name": ""}

    def create_vars(self) -> dict[str, bytes]:
        return {"cache": bytes(256)}

    @action
    def hit(self) -> int:
        self.state["hits"] += 1
        return int(self.state["hits"])


registry = Registry(Tenant)
N = 10_000


async def test_ten_thousand_actors_all_sleep_and_release_memory(tmp_path: Path) -> None:
    clock = MockClock()
    async with registry.test_client(f"sqlite:///{tmp_path / 'data'}", clock=clock) as client:
        node = node_of(client)
        await client.get_or_create(Tenant, "warm-up").hit()
        await clock.advance(31)
        await wait_for(lambda: not node.instances, timeout=60)
        gc.collect()
        # Allocated blocks, not bytes: cheap to count (tracemalloc would slow the run 3x),
        # and a leaked instance, task or dict entry per actor shows up as several blocks.
        baseline = sys.getallocatedblocks()

        for start in range(0, N, 500):
            await asyncio.gather(
                *(client.get_or_create(Tenant, str(i)).hit() for i in range(start, start + 500))
            )
        assert len(node.instances) == N
        awake_blocks = sys.getallocatedblocks() - baseline

        await clock.advance(31)
        await wait_for(lambda: not node.instances, timeout=120)
        gc.collect()
        asleep_blocks = sys.getallocatedblocks() - baseline

        # Awake actors cost memory; asleep, nothing per actor stays behind.
        assert awake_blocks / N > 20
        assert asleep_blocks / N < 1, f"{asleep_blocks / N:.2f} blocks kept per sleeping actor"
        assert not node._activating and not node._stopping and not node._resolving
        # And every one of them still answers, from durable state.
        assert await client.get(Tenant, "9999").hit() == 2
