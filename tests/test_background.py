"""run() loops, wait_until and destroy, with sleep driven by a MockClock."""

from __future__ import annotations

import asyncio

from actorkit import Actor, ActorOptions, Registry, action
from actorkit.testing import MockClock
from runtime_helpers import awake, node_of, wait_for

LOG: list[str] = []


class Ticker(Actor):
    state = {"ticks": 0}

    async def run(self) -> None:
        LOG.append("run started")
        try:
            for _ in range(3):
                await asyncio.sleep(0)
                self.state["ticks"] += 1
        finally:
            LOG.append("run ended")

    @action
    def ticks(self) -> int:
        return int(self.state["ticks"])


class Forever(Actor):
    state = {"n": 0}

    async def run(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            LOG.append("cancelled")
            raise

    @action
    def ping(self) -> str:
        return "pong"


class Flusher(Actor):
    state = {"flushed": False}
    options = ActorOptions(sleep_grace=5.0)

    @action
    def start_flush(self) -> None:
        async def flush() -> None:
            await asyncio.sleep(0.01)
            LOG.append("flushed")

        self.wait_until(flush())

    @action
    def remind(self) -> str:
        return self.schedule.after(60, "start_flush")

    @action
    def bye(self) -> None:
        self.destroy()

    def on_destroy(self) -> None:
        LOG.append(f"destroyed {self.state['flushed']}")


registry = Registry(Ticker, Forever, Flusher)


def setup_function() -> None:
    LOG.clear()


async def test_run_loop_changes_are_persisted(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Ticker, "a")
        await h.resolve()
        await wait_for(lambda: "run ended" in LOG)
        assert await h.ticks() == 3
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get(Ticker, "a").ticks() >= 3


async def test_active_run_loop_keeps_actor_awake_and_is_cancelled_on_sleep() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        h = client.get_or_create(Forever, "a")
        actor_id = await h.resolve()
        await clock.advance(100)
        assert awake(client, actor_id)
        await node_of(client).sleep_actor(actor_id)
        assert LOG == ["cancelled"]


async def test_wait_until_finishes_before_sleep() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        h = client.get_or_create(Flusher, "a")
        await h.start_flush()
        await node_of(client).sleep_actor(await h.resolve())
        assert LOG == ["flushed"]


async def test_destroy_removes_schedules_and_alarm(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        node = node_of(client)
        h = client.get_or_create(Flusher, "a")
        await h.remind()
        assert await node.driver.due_alarms(float("inf")) != []
        await h.bye()
        assert LOG == ["destroyed False"]
        assert await node.driver.due_alarms(float("inf")) == []
        await clock.advance(120)
        await asyncio.sleep(0.05)
        assert "flushed" not in LOG
        # The key is free again and the new actor starts fresh.
        assert await client.get_or_create(Flusher, "a").resolve() != await h.resolve()
