"""State and durability (DESIGN §3): on_state_change, relaxed mode, versions, typed state."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import msgspec
import pytest

from actorkit import Actor, ActorError, ActorOptions, AsyncClient, Registry, action
from actorkit._runtime.state import FORMAT_VERSION, STATE_KEY
from actorkit.storage.base import Activation, WriteBatch
from actorkit.testing import MockClock
from runtime_helpers import node_of


async def stored_envelope(client: AsyncClient, actor_id: str) -> list[Any] | None:
    """The persisted state envelope, read straight from the storage driver."""
    data = await node_of(client).driver.load(actor_id)
    raw = data.get(STATE_KEY)
    return None if raw is None else msgspec.msgpack.decode(raw)


# -- on_state_change ---------------------------------------------------------------------


class Watched(Actor):
    state = {"n": 0, "tags": []}
    changes: list[Any] = []

    def on_state_change(self, state: Any) -> None:
        Watched.changes.append(msgspec.to_builtins(state))

    @action
    def read(self) -> int:
        return int(self.state["n"])

    @action
    def bump_three_times(self) -> int:
        for _ in range(3):
            self.state["n"] += 1
        return int(self.state["n"])

    @action
    def set_same(self) -> None:
        self.state["n"] = self.state["n"]

    @action
    def fail_after_change(self) -> None:
        self.state["n"] = 999
        raise ValueError("no")


@pytest.fixture(autouse=True)
def _reset() -> None:
    Watched.changes.clear()


async def test_on_state_change_fires_once_per_mutating_action(storage_url: str) -> None:
    async with Registry(Watched).test_client(storage_url) as client:
        h = client.get_or_create(Watched, "w")
        assert await h.read() == 0
        assert Watched.changes == []  # creation and reads are not changes
        assert await h.bump_three_times() == 3
        assert Watched.changes == [{"n": 3, "tags": []}]
        await h.set_same()
        await h.read()
        with pytest.raises(ActorError):
            await h.fail_after_change()
        assert Watched.changes == [{"n": 3, "tags": []}]
        await asyncio.gather(*(h.bump_three_times() for _ in range(4)))
        assert [c["n"] for c in Watched.changes] == [3, 6, 9, 12, 15]


async def test_on_state_change_may_not_mutate_state(storage_url: str) -> None:
    class Sneaky(Actor):
        state = {"n": 0, "audit": 0}

        def on_state_change(self, state: Any) -> None:
            if state["n"] > 1:
                state["audit"] += 1

        @action
        def bump(self) -> int:
            self.state["n"] += 1
            return int(self.state["n"])

    async with Registry(Sneaky).test_client(storage_url) as client:
        h = client.get_or_create(Sneaky, "s")
        assert await h.bump() == 1
        with pytest.raises(ActorError) as info:
            await h.bump()
        assert info.value.code == "hook_failed"
        assert "on_state_change must not change the state" in info.value.message
        with pytest.raises(ActorError):
            await h.bump()
    if storage_url.startswith("sqlite"):
        async with Registry(Sneaky).test_client(storage_url) as client:
            with pytest.raises(ActorError):
                await client.get(Sneaky, "s").bump()


# -- durability and the persisted format ---------------------------------------------------


async def test_reply_waits_for_durable_write(storage_url: str) -> None:
    class Durable(Actor):
        state = {"n": 0}

        @action
        def bump(self) -> int:
            self.state["n"] += 1
            return int(self.state["n"])

    async with Registry(Durable).test_client(storage_url) as client:
        h = client.get_or_create(Durable, "d")
        actor_id = await h.resolve()
        for expected in range(1, 6):
            assert await h.bump() == expected
            # The moment the reply arrives, storage already holds that state.
            envelope = await stored_envelope(client, actor_id)
            assert envelope is not None
            assert envelope[2] == {"n": expected}


async def test_persisted_envelope_carries_format_and_state_version(storage_url: str) -> None:
    class Versioned(Actor):
        state_version = 3
        state = {"n": 0}

        @action
        def bump(self) -> None:
            self.state["n"] += 1

    async with Registry(Versioned).test_client(storage_url) as client:
        h = client.get_or_create(Versioned, "v")
        await h.bump()
        envelope = await stored_envelope(client, await h.resolve())
        assert envelope is not None
        assert envelope[0] == FORMAT_VERSION == 1
        assert envelope[1] == 3
        assert envelope[2] == {"n": 1}


async def test_state_from_a_newer_format_is_refused(sqlite_url: str) -> None:
    class Plain(Actor):
        state = {"n": 0}

        @action
        def get(self) -> int:
            return int(self.state["n"])

    async with Registry(Plain).test_client(sqlite_url) as client:
        actor_id = await client.get_or_create(Plain, "p").resolve()
        node = node_of(client)
        await node.sleep_actor(actor_id)
        taken = await node.driver.activate(actor_id, "a-newer-release")
        assert isinstance(taken, Activation)
        future = msgspec.msgpack.encode([FORMAT_VERSION + 1, 1, {"n": 5}])
        assert await node.driver.commit(
            [WriteBatch(actor_id, taken.epoch, puts={STATE_KEY: future})]
        ) == [None]
        await node.driver.release(actor_id, "a-newer-release", taken.epoch)
        with pytest.raises(ActorError) as info:
            await client.get(Plain, "p").get()
        assert (info.value.group, info.value.code) == ("internal", "storage_error")
        assert "upgrade actorkit" in info.value.message


# -- relaxed mode -----------------------------------------------------------------------------


class Relaxed(Actor):
    options = ActorOptions(state_save_interval=1.0)
    state = {"n": 0}

    @action
    def bump(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])


async def test_relaxed_mode_does_not_hold_replies_and_still_persists(storage_url: str) -> None:
    clock = MockClock()
    async with Registry(Relaxed).test_client(storage_url, clock=clock) as client:
        h = client.get_or_create(Relaxed, "r")
        actor_id = await h.resolve()
        before = await stored_envelope(client, actor_id)
        # Replies come back although nothing has been written since creation: time does
        # not move, so the relaxed save cannot have happened.
        assert [await h.bump() for _ in range(5)] == [1, 2, 3, 4, 5]
        assert await stored_envelope(client, actor_id) == before
        await clock.advance(1.0)  # the one pending save (not one per call) happens now
        for _ in range(200):
            envelope = await stored_envelope(client, actor_id)
            if envelope is not None and envelope[2] == {"n": 5}:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("relaxed save never reached storage")
        assert node_of(client).committer.batches <= 3  # create, init, one relaxed save
        assert await h.bump() == 6
    # Sleeping (here: closing the client) saves what the timer has not saved yet.
    if storage_url.startswith("sqlite"):
        async with Registry(Relaxed).test_client(storage_url, clock=clock) as client:
            assert await client.get(Relaxed, "r").bump() == 7


# -- versions and migrations ---------------------------------------------------------------


async def test_migrate_state_runs_on_wake_after_restart(sqlite_url: str) -> None:
    class DocV1(Actor):
        name = "doc"
        state = {"title": "untitled"}

        @action
        def rename(self, title: str) -> None:
            self.state["title"] = title

    migrations: list[int] = []

    class DocV2(Actor):
        name = "doc"
        state_version = 2
        state = {"title": "untitled", "tags": []}

        def migrate_state(self, old: Any, from_version: int) -> Any:
            migrations.append(from_version)
            return {"title": old["title"].upper(), "tags": ["migrated"]}

        @action
        def read(self) -> Any:
            return self.state

    class DocV3NoHook(Actor):
        name = "doc"
        state_version = 3
        state = {}

        @action
        def read(self) -> Any:
            return self.state

    async with Registry(DocV1).test_client(sqlite_url) as client:
        await client.get_or_create(DocV1, "d").rename("hello")
    async with Registry(DocV2).test_client(sqlite_url) as client:
        h = client.get(DocV2, "d")
        assert await h.read() == {"title": "HELLO", "tags": ["migrated"]}
        envelope = await stored_envelope(client, await h.resolve())
        assert envelope is not None and envelope[1] == 2  # migrated state was persisted
    async with Registry(DocV2).test_client(sqlite_url) as client:
        assert await client.get(DocV2, "d").read() == {"title": "HELLO", "tags": ["migrated"]}
    assert migrations == [1]
    async with Registry(DocV3NoHook).test_client(sqlite_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get(DocV3NoHook, "d").read()
        assert info.value.code == "hook_failed"
        assert "migrate_state" in info.value.message
    # A class older than the stored state refuses to load it instead of corrupting it.
    async with Registry(DocV1).test_client(sqlite_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get(DocV1, "d").rename("x")
        assert info.value.code == "storage_error"
        assert "state version 2, newer" in info.value.message
    async with Registry(DocV2).test_client(sqlite_url) as client:
        assert await client.get(DocV2, "d").read() == {"title": "HELLO", "tags": ["migrated"]}


# -- typed state -------------------------------------------------------------------------------


class Item(msgspec.Struct):
    name: str
    qty: int = 1


class Cart(msgspec.Struct):
    items: list[Item] = []
    owner: str = ""


class StructCart(Actor):
    name = "struct_cart"
    state = Cart()

    @action
    def add(self, name: str) -> int:
        assert isinstance(self.state, Cart), type(self.state)
        self.state.items.append(Item(name))
        return len(self.state.items)

    @action
    def kind(self) -> str:
        return type(self.state).__name__ + "/" + type(self.state.items[0]).__name__


class CreatedCart(Actor):
    name = "created_cart"

    def create_state(self, input: Any) -> Cart:
        return Cart(owner=str(input))

    @action
    def add(self, name: str) -> int:
        assert isinstance(self.state, Cart), type(self.state)
        self.state.items.append(Item(name))
        return len(self.state.items)

    @action
    def kind(self) -> str:
        return type(self.state).__name__ + "/" + self.state.owner


@dataclasses.dataclass
class Score:
    points: int = 0
    history: list[int] = dataclasses.field(default_factory=list)


class DataclassScore(Actor):
    name = "dataclass_score"
    state = Score()

    @action
    def score(self, n: int) -> int:
        assert isinstance(self.state, Score), type(self.state)
        self.state.points += n
        self.state.history.append(n)
        return self.state.points

    @action
    def fail(self) -> None:
        self.state.points = -1
        raise ValueError("x")

    @action
    def kind(self) -> str:
        return type(self.state).__name__


typed_registry = Registry(StructCart, CreatedCart, DataclassScore)


async def test_typed_state_round_trips_across_restart(storage_url: str) -> None:
    async with typed_registry.test_client(storage_url) as client:
        assert await client.get_or_create(StructCart, "c").add("apple") == 1
        assert await client.get_or_create(CreatedCart, "c", input="ann").add("pear") == 1
        assert await client.get_or_create(DataclassScore, "c").score(5) == 5
        # Rollback restores the typed value, not a dict.
        with pytest.raises(ActorError):
            await client.get(DataclassScore, "c").fail()
        assert await client.get(DataclassScore, "c").kind() == "Score"
        assert await client.get(DataclassScore, "c").score(1) == 6
    if storage_url.startswith("sqlite"):
        async with typed_registry.test_client(storage_url) as client:
            assert await client.get(StructCart, "c").add("banana") == 2
            assert await client.get(StructCart, "c").kind() == "Cart/Item"
            assert await client.get(CreatedCart, "c").add("plum") == 2
            assert await client.get(CreatedCart, "c").kind() == "Cart/ann"
            assert await client.get(DataclassScore, "c").score(2) == 8
            assert await client.get(DataclassScore, "c").kind() == "Score"


async def test_typed_state_survives_a_fresh_class_definition(sqlite_url: str) -> None:
    """The state type is known from the class alone (a new process has seen no value yet)."""

    def make() -> Registry:
        class FreshCart(Actor):
            name = "fresh_cart"

            def create_state(self, input: Any) -> Cart:
                return Cart()

            @action
            def add(self, name: str) -> str:
                self.state.items.append(Item(name))
                return type(self.state).__name__

        return Registry(FreshCart)

    async with make().test_client(sqlite_url) as client:
        assert await client.get_or_create("fresh_cart", "c").add("a") == "Cart"
    async with make().test_client(sqlite_url) as client:
        assert await client.get("fresh_cart", "c").add("b") == "Cart"


async def test_assigning_a_new_state_value_is_persisted(storage_url: str) -> None:
    class Replacer(Actor):
        state = {"v": 1}

        @action
        def replace(self, value: Any) -> None:
            self.state = value

        @action
        def read(self) -> Any:
            return self.state

    async with Registry(Replacer).test_client(storage_url) as client:
        h = client.get_or_create(Replacer, "r")
        await h.replace({"v": 2, "extra": [1, 2]})
        assert await h.read() == {"v": 2, "extra": [1, 2]}
    if storage_url.startswith("sqlite"):
        async with Registry(Replacer).test_client(storage_url) as client:
            assert await client.get(Replacer, "r").read() == {"v": 2, "extra": [1, 2]}


async def test_failure_after_save_state_rolls_back_to_the_saved_point(storage_url: str) -> None:
    class Saver(Actor):
        state = {"n": 0}

        @action
        async def save_then_fail(self) -> None:
            self.state["n"] = 1
            await self.save_state()
            self.state["n"] = 2
            raise ValueError("after the save")

        @action
        def read(self) -> int:
            return int(self.state["n"])

    async with Registry(Saver).test_client(storage_url) as client:
        h = client.get_or_create(Saver, "s")
        with pytest.raises(ActorError):
            await h.save_then_fail()
        assert await h.read() == 1
    if storage_url.startswith("sqlite"):
        async with Registry(Saver).test_client(storage_url) as client:
            assert await client.get(Saver, "s").read() == 1
