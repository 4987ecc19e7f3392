"""What happens to a cluster when a node dies, freezes, or is restarted: nothing
acknowledged is lost, nothing is acknowledged twice, and the survivors carry on.

Times are measured and printed, never asserted (this machine is shared); the bounds below
only keep a broken cluster from hanging the suite. ``benchmarks/cluster.py`` measures
failover over many kills.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from actorkit import ActorError, AsyncClient
from cluster_fixtures import LEASE, ClusterFactory, Node, count, read_events
from ws_helpers import eventually

#: Generous liveness bound: a cluster that needs longer than this is broken, not slow.
BOUND = LEASE + 30.0


async def owner_of(nodes: list[Node], client: AsyncClient, key: str) -> Node:
    pid = await client.get("counter", key).pid()
    return next(n for n in nodes if n.pid == pid)


def retryable(err: ActorError) -> bool:
    return isinstance(err.metadata, dict) and err.metadata.get("retryable") is True


async def increment_until_acknowledged(client: AsyncClient, key: str) -> int:
    """A client that retries what the cluster says it may retry, like a real caller."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while True:
        try:
            return await client.get_or_create("counter", key).increment(1)
        except ActorError as err:
            if not retryable(err) or loop.time() > deadline:
                raise
        await asyncio.sleep(0.05)


async def test_kill_9_of_an_owner_loses_no_acknowledged_increment(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(3)
    first = AsyncClient(nodes[0].url)
    await first.get_or_create("counter", "k").increment(1)
    owner = await owner_of(nodes, first, "k")
    survivors = [n for n in nodes if n is not owner]
    clients = [AsyncClient(n.url) for n in survivors]
    acked: list[int] = [1]
    killed_at = 0.0
    first_after_kill: float | None = None
    try:

        async def traffic(client: AsyncClient) -> None:
            nonlocal first_after_kill
            for _ in range(40):
                acked.append(await increment_until_acknowledged(client, "k"))
                if killed_at and first_after_kill is None:
                    first_after_kill = time.monotonic() - killed_at

        workers = [asyncio.ensure_future(traffic(c)) for c in clients]
        await eventually(lambda: _value(len(acked)), lambda n: n >= 20)
        owner.kill()
        killed_at = time.monotonic()
        await asyncio.gather(*workers)
        final = await clients[0].get("counter", "k").get()
    finally:
        for c in [first, *clients]:
            await c.aclose()
    # Every acknowledged increment has its own value (none lost and re-used, none doubled)
    # and all of them are in the final count.
    assert len(acked) == len(set(acked)) == 81
    assert max(acked) <= final
    print(f"first acknowledged call {first_after_kill:.2f} s after kill -9 (lease {LEASE} s)")


async def test_paused_owner_never_acknowledges_a_fenced_turn(
    cluster: ClusterFactory, events_file: Path
) -> None:
    nodes = cluster(2)
    a_client, b_client = AsyncClient(nodes[0].url), AsyncClient(nodes[1].url)
    try:
        assert await a_client.get_or_create("counter", "frozen").increment(1) == 1
        owner = await owner_of(nodes, a_client, "frozen")
        other = next(n for n in nodes if n is not owner)
        direct = AsyncClient(owner.url)
        # A call inside the owner's turn when the owner freezes (SIGSTOP).
        slow = asyncio.ensure_future(direct.get("counter", "frozen").slow_increment(3 * LEASE))
        await eventually(lambda: _value(count(events_file, "slow")), lambda n: n == 1)
        owner.pause()
        try:
            # The other node takes over once the frozen node's lease has run out.
            via_other = AsyncClient(other.url)
            taken = await increment_until_acknowledged(via_other, "frozen")
            assert taken == 2  # from the last committed state: the frozen turn is not in it
        finally:
            owner.resume()
        outcome: Any
        try:
            outcome = await slow
        except ActorError as err:
            outcome = err
        # The frozen turn is fenced: never acknowledged (a retryable error instead). The
        # client retries that error with the call's idempotency key; the retry reaches the
        # new owner and runs there, once (3), or the error surfaces.
        assert outcome == 3 or (isinstance(outcome, ActorError) and retryable(outcome)), outcome
        # The resumed node serves nothing stale: through it, the actor is the other node's.
        assert await direct.get("counter", "frozen").pid() == other.pid
        assert await via_other.get("counter", "frozen").get() == (3 if outcome == 3 else 2)
        await via_other.aclose()
        await direct.aclose()
    finally:
        await a_client.aclose()
        await b_client.aclose()


async def test_schedule_fires_once_after_its_owner_died(
    cluster: ClusterFactory, events_file: Path
) -> None:
    nodes = cluster(3)
    async with AsyncClient(nodes[0].url) as client:
        await client.get_or_create("counter", "alarm").remind(1.0)
        owner = await owner_of(nodes, client, "alarm")
        dead_pid = owner.pid
        owner.kill()
        survivor = next(n for n in nodes if n is not owner)
        async with AsyncClient(survivor.url) as other:
            await eventually(
                lambda: _value(count(events_file, "fired", "alarm")), lambda n: n >= 1, BOUND
            )
            assert await other.get("counter", "alarm").fired() == 1
            fired = [e for e in read_events(events_file) if e[0] == "fired"]
            assert len(fired) == 1 and int(fired[0][2]) != dead_pid


async def test_rolling_restart_of_every_node_under_traffic_fails_no_call(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(3)
    keys = [f"g{i}" for i in range(6)]
    async with AsyncClient(nodes[0].url) as setup:
        for key in keys:
            await setup.get_or_create("counter", key).increment(1)
    clients = {n.port: AsyncClient(n.url) for n in nodes}
    acked: dict[str, list[int]] = {key: [1] for key in keys}
    try:
        for restarted in nodes:  # one at a time, as a deploy does
            # Traffic goes through the nodes that stay up, as a load balancer would send it.
            up = [clients[n.port] for n in nodes if n is not restarted]
            stop = asyncio.Event()

            async def traffic(client: AsyncClient, key: str, stop: asyncio.Event = stop) -> None:
                while not stop.is_set():
                    # No retry: a graceful restart must not fail a single call.
                    acked[key].append(await client.get("counter", key).increment(1))

            workers = [
                asyncio.ensure_future(traffic(up[i % len(up)], key)) for i, key in enumerate(keys)
            ]
            await more_acknowledged(acked, 30)
            await asyncio.to_thread(restarted.restart)  # SIGTERM, wait, start again
            await more_acknowledged(acked, 30)
            stop.set()
            await asyncio.gather(*workers)
        for key, values in acked.items():
            assert values == list(range(1, len(values) + 1)), key
            assert await clients[nodes[0].port].get("counter", key).get() == len(values)
    finally:
        for client in clients.values():
            await client.aclose()


async def more_acknowledged(acked: dict[str, list[int]], n: int) -> None:
    """Wait until ``n`` more calls have been acknowledged."""
    target = sum(map(len, acked.values())) + n
    await eventually(lambda: _value(sum(map(len, acked.values()))), lambda total: total >= target)


async def _value(x: Any) -> Any:
    return x
