"""Sleep and wake, driven by a MockClock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actorkit import Actor, ActorOptions, Registry, action
from actorkit.testing import MockClock, settle
from runtime_helpers import awake, node_of, wait_for

EVENTS: list[tuple[str, str]] = []


class Room(Actor):
    state = {"n": 0}
    options = ActorOptions(sleep_timeout=30.0)

    def create_vars(self) -> dict[str, Any]:
        EVENTS.append(("create_vars", self.key[0]))
        return {"woken": True}

    def on_wake(self) -> None:
        EVENTS.append(("on_wake", self.key[0]))

    async def on_sleep(self) -> None:
        EVENTS.append(("on_sleep", self.key[0]))
        self.state["n"] += 1000  # a change made while going to sleep is kept

    @action
    def bump(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    async def slow(self, gate_name: str) -> str:
        await GATES[gate_name].wait()
        return "done"

    @action
    def nap(self) -> None:
        self.sleep()

    @action
    async def hold(self, gate_name: str) -> None:
        self.keep_awake(GATES[gate_name].wait())


class Insomniac(Actor):
    state = {"n": 0}
    options = ActorOptions(no_sleep=True)

    @action
    def bump(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])


GATES: dict[str, asyncio.Event] = {}
registry = Registry(Room, Insomniac)


@pytest.fixture(autouse=True)
def _reset() -> None:
    EVENTS.clear()
    GATES.clear()


async def test_idle_actor_sleeps_after_timeout_and_wakes_on_call(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        room = client.get_or_create(Room, "a")
        assert await room.bump() == 1
        actor_id = await room.resolve()
        await clock.advance(29)
        assert awake(client, actor_id)
        await clock.advance(2)
        await wait_for(lambda: not awake(client, actor_id))
        assert ("on_sleep", "a") in EVENTS
        EVENTS.clear()
        assert await room.bump() == 1002
        assert EVENTS == [("create_vars", "a"), ("on_wake", "a")]


async def test_activity_resets_idle_timer() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        for _ in range(5):
            await clock.advance(20)
            await room.bump()
        assert awake(client, actor_id)


async def test_running_action_keeps_actor_awake() -> None:
    clock = MockClock()
    GATES["g"] = asyncio.Event()
    async with registry.test_client(clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        call = asyncio.ensure_future(room.slow("g"))
        await settle()
        await clock.advance(100)
        assert awake(client, actor_id)
        GATES["g"].set()
        assert await call == "done"
        await clock.advance(31)
        await wait_for(lambda: not awake(client, actor_id))


async def test_keep_awake_holds_off_sleep() -> None:
    clock = MockClock()
    GATES["k"] = asyncio.Event()
    async with registry.test_client(clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        await room.hold("k")
        await clock.advance(100)
        assert awake(client, actor_id)
        GATES["k"].set()
        await settle()
        await clock.advance(31)
        await wait_for(lambda: not awake(client, actor_id))


async def test_no_sleep_option_never_sleeps() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        h = client.get_or_create(Insomniac, "a")
        actor_id = await h.resolve()
        await clock.advance(1_000)
        assert awake(client, actor_id)


async def test_self_sleep_sleeps_after_the_call(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        await room.nap()
        await wait_for(lambda: not awake(client, actor_id))
        assert ("on_sleep", "a") in EVENTS
        assert await room.bump() == 1001


async def test_calls_racing_with_sleep_are_served_by_next_wake(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        node = node_of(client)
        inst = node.instances[actor_id]
        sleeping = asyncio.ensure_future(node.sleep_actor(actor_id))
        calls = [asyncio.ensure_future(room.bump()) for _ in range(20)]
        await sleeping
        results = await asyncio.gather(*calls)
        # on_sleep added 1000 exactly once; every call was served, none lost or doubled.
        assert sorted(results) == list(range(1001, 1021))
        assert node.instances[actor_id] is not inst


async def test_raw_request_in_flight_keeps_actor_awake() -> None:
    clock = MockClock()
    GATES["raw"] = asyncio.Event()
    async with registry.test_client(clock=clock) as client:
        room = client.get_or_create(Room, "a")
        actor_id = await room.resolve()
        node = node_of(client)

        async def handler(actor: Actor) -> str:  # what an on_request hook does
            await GATES["raw"].wait()
            return "ok"

        request = asyncio.ensure_future(node.run_in_actor(actor_id, "on_request", handler))
        await settle()
        await clock.advance(100)
        assert awake(client, actor_id)
        GATES["raw"].set()
        assert await request == "ok"
        await clock.advance(31)
        await wait_for(lambda: not awake(client, actor_id))
