"""Addressing (DESIGN §2): get / get_or_create / create / get_for_id, keys, destroy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actorkit import Actor, ActorError, Limits, Registry, action


class Counter(Actor):
    state = {"count": 0}
    created: list[tuple[str, ...]] = []  # keys, in on_create order (class-level, per test reset)
    destroyed: list[tuple[str, ...]] = []

    def on_create(self, input: Any) -> None:
        Counter.created.append(self.key)
        if input is not None:
            self.state["count"] = int(input["start"])

    def on_destroy(self) -> None:
        Counter.destroyed.append(self.key)

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def whoami(self) -> list[Any]:
        return [self.name, list(self.key), self.id]

    @action
    def self_destruct(self) -> str:
        self.destroy()
        return "bye"


class Other(Actor):
    name = "other_actor"
    state = {"count": 0}

    @action
    def increment(self) -> int:
        self.state["count"] += 1
        return int(self.state["count"])


registry = Registry(Counter, Other)


@pytest.fixture(autouse=True)
def _reset() -> None:
    Counter.created.clear()
    Counter.destroyed.clear()


async def test_actor_name_defaults_to_snake_case_and_can_be_overridden() -> None:
    class ChatRoom(Actor):
        @action
        def ping(self) -> str:
            return "pong"

    class HTTPThing(Actor):
        pass

    assert ChatRoom.name == "chat_room"
    assert HTTPThing.name == "http_thing"
    assert Other.name == "other_actor"
    async with Registry(ChatRoom).test_client() as client:
        assert await client.get_or_create("chat_room", "x").ping() == "pong"
        assert await client.get_or_create(ChatRoom, "x").ping() == "pong"


async def test_get_or_create_then_get_and_get_for_id(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        handle = client.get_or_create(Counter, ["a", "b"])
        actor_id = await handle.resolve()
        await handle.increment(3)
        assert await client.get(Counter, ["a", "b"]).get() == 3
        assert await client.get(Counter, ["a", "b"]).resolve() == actor_id
        assert await client.get_for_id(Counter, actor_id).get() == 3
        assert await client.get_for_id("counter", actor_id).whoami() == [
            "counter",
            ["a", "b"],
            actor_id,
        ]
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get_for_id(Counter, actor_id).get() == 3


async def test_get_never_creates(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        handle = client.get(Counter, "missing")
        for _ in range(2):
            with pytest.raises(ActorError) as info:
                await handle.increment()
            assert (info.value.group, info.value.code) == ("actor", "actor_not_found")
        with pytest.raises(ActorError, match=r"no actor"):
            await handle.resolve()
        assert await client.list_actors(Counter) == []
        assert Counter.created == []


async def test_key_normalisation(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        a = await client.get_or_create(Counter, "a").resolve()
        assert await client.get_or_create(Counter, ["a"]).resolve() == a
        assert await client.get_or_create(Counter, ("a",)).resolve() == a
        assert await client.get(Counter, ["a"]).resolve() == a
        empty = await client.get_or_create(Counter).resolve()
        assert await client.get_or_create(Counter, []).resolve() == empty
        assert await client.get(Counter, None).resolve() == empty
        assert empty != a
        handle = client.get_or_create(Counter, "a")
        assert handle.key == ("a",)


async def test_multi_part_keys_match_exactly(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        ab = await client.get_or_create(Counter, ["a", "b"]).resolve()
        ids = {
            ab,
            await client.get_or_create(Counter, ["a"]).resolve(),
            await client.get_or_create(Counter, ["b", "a"]).resolve(),
            await client.get_or_create(Counter, ["a", "b", "c"]).resolve(),
            await client.get_or_create(Counter, ["a/b"]).resolve(),
            await client.get_or_create(Counter, ["a,b"]).resolve(),
            await client.get_or_create(Counter, ["ab"]).resolve(),
        }
        assert len(ids) == 7
        assert await client.get(Counter, ["a", "b"]).resolve() == ab
        with pytest.raises(ActorError, match="no actor"):
            await client.get(Counter, ["a", "b", ""]).resolve()


async def test_same_key_different_names_are_different_actors(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        await client.get_or_create(Counter, "k").increment(5)
        assert await client.get_or_create(Other, "k").increment() == 1
        assert await client.get(Counter, "k").get() == 5


async def test_create_and_actor_already_exists(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        handle = await client.create(Counter, "new", input={"start": 10})
        assert await handle.get() == 10
        with pytest.raises(ActorError) as info:
            await client.create(Counter, "new")
        assert (info.value.group, info.value.code) == ("actor", "actor_already_exists")
        with pytest.raises(ActorError) as info:
            await client.create(Counter, ["new"], input={"start": 99})
        assert info.value.code == "actor_already_exists"
        assert await handle.get() == 10
        assert Counter.created == [("new",)]


async def test_concurrent_create_of_one_key_has_one_winner(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        results = await asyncio.gather(
            *(client.create(Counter, "race") for _ in range(50)), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(e, ActorError) and e.code == "actor_already_exists" for e in losers)
        assert Counter.created == [("race",)]


async def test_input_is_passed_on_create_only(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        assert await client.get_or_create(Counter, "in", input={"start": 7}).get() == 7
        assert await client.get_or_create(Counter, "in", input={"start": 100}).get() == 7
        assert Counter.created == [("in",)]
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get_or_create(Counter, "in", input={"start": 1}).get() == 7
        assert Counter.created == [("in",)]


async def test_get_for_id_unknown_is_actor_not_found(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get_for_id(Counter, "0" * 32).get()
        assert info.value.code == "actor_not_found"


async def test_unknown_actor_name_is_actor_not_found() -> None:
    async with registry.test_client() as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create("nobody", "x").resolve()
        assert info.value.code == "actor_not_found"
        with pytest.raises(ActorError) as info:
            await client.get_or_create("Not A Name!", "x").resolve()
        assert info.value.code == "validation_error"


async def test_1000_concurrent_get_or_create_over_10_keys(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        keys = [f"k{i}" for i in range(10)]

        async def first_call(i: int) -> tuple[str, str]:
            key = keys[i % 10]
            handle = client.get_or_create(Counter, key)
            await handle.increment()
            return key, await handle.resolve()

        pairs = await asyncio.gather(*(first_call(i) for i in range(1000)))
        ids_per_key: dict[str, set[str]] = {}
        for key, actor_id in pairs:
            ids_per_key.setdefault(key, set()).add(actor_id)
        assert all(len(ids) == 1 for ids in ids_per_key.values())
        assert len(await client.list_actors(Counter, limit=1000)) == 10
        assert sorted(Counter.created) == sorted((k,) for k in keys)
        for key in keys:
            assert await client.get(Counter, key).get() == 100


async def test_destroy_then_recreate_starts_fresh(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        handle = client.get_or_create(Counter, "d", input={"start": 5})
        old_id = await handle.resolve()
        await handle.increment(10)
        await handle.destroy()
        assert Counter.destroyed == [("d",)]
        with pytest.raises(ActorError) as info:
            await client.get(Counter, "d").get()
        assert info.value.code == "actor_not_found"
        with pytest.raises(ActorError) as info:
            await client.get_for_id(Counter, old_id).get()
        assert info.value.code == "actor_not_found"
        fresh = client.get_or_create(Counter, "d")
        assert await fresh.get() == 0
        assert await fresh.resolve() != old_id
        assert Counter.created == [("d",), ("d",)]
        # A stale get_or_create handle re-resolves by key on its own.
        assert await handle.increment() == 1
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get(Counter, "d").get() == 1
            assert len(await client.list_actors(Counter)) == 1


async def test_destroy_from_inside_an_action(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        handle = client.get_or_create(Counter, "self")
        await handle.increment(4)
        assert await handle.self_destruct() == "bye"
        assert Counter.destroyed == [("self",)]
        with pytest.raises(ActorError) as info:
            await client.get(Counter, "self").get()
        assert info.value.code == "actor_not_found"
        assert await client.get_or_create(Counter, "self").get() == 0
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get(Counter, "self").get() == 0


async def test_list_actors_pages(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        for i in range(7):
            await client.get_or_create(Counter, str(i)).resolve()
        await client.get_or_create(Other, "x").resolve()
        first = await client.list_actors(Counter, limit=4)
        rest = await client.list_actors(Counter, after=first[-1]["actor_id"], limit=4)
        assert len(first) == 4 and len(rest) == 3
        assert sorted(r["key"][0] for r in first + rest) == [str(i) for i in range(7)]
        assert {r["name"] for r in await client.list_actors()} == {"counter", "other_actor"}


async def test_key_limits_are_validation_errors() -> None:
    limits = Limits(max_key_parts=3, max_key_part_bytes=8, max_key_bytes=12)
    async with Registry(Counter, limits=limits).test_client() as client:
        for bad in (["a", "b", "c", "d"], ["x" * 9], ["aaaaaaa", "bbbbbbb"]):
            with pytest.raises(ActorError) as info:
                await client.get_or_create(Counter, bad).resolve()
            assert info.value.code == "validation_error"
        assert await client.get_or_create(Counter, ["a", "b", "c"]).increment() == 1
    async with registry.test_client() as client:
        # Default limits: 128 bytes per part, checked as soon as the handle is made.
        with pytest.raises(ActorError) as info:
            client.get_or_create(Counter, "é" * 65)
        assert info.value.code == "validation_error"
        with pytest.raises(ActorError) as info:
            client.get_or_create(Counter, ["a", 1])  # type: ignore[list-item]
        assert info.value.code == "validation_error"
        with pytest.raises(ActorError) as info:
            client.get_or_create(Counter, ["\ud800"])  # not encodable as UTF-8
        assert info.value.code == "validation_error"
        assert await client.list_actors() == []


async def test_oversized_or_unencodable_input() -> None:
    limits = Limits(max_input_bytes=100)
    async with Registry(Counter, limits=limits).test_client() as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(
                Counter, "big", input={"start": 1, "pad": "x" * 200}
            ).resolve()
        assert (info.value.group, info.value.code) == ("request", "message_too_large")
        assert info.value.metadata == {"limit": 100}
        with pytest.raises(ActorError) as info:
            await client.create(Counter, "big", input={"start": 1, "pad": "x" * 200})
        assert info.value.code == "message_too_large"
        assert await client.list_actors() == []
        assert Counter.created == []
        assert await client.get_or_create(Counter, "big", input={"start": 2}).get() == 2


async def test_unserializable_input_is_validation_error() -> None:
    async with registry.test_client() as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(Counter, "x", input={"start": object()}).resolve()
        assert info.value.code == "validation_error"
        assert "input" in info.value.message
        assert await client.list_actors() == []


class Fragile(Actor):
    state = {"n": 0}

    async def on_destroy(self) -> None:
        await asyncio.sleep(0.05)  # calls arrive while the actor is being destroyed

    @action
    def inc(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])

    @action
    def self_destruct(self) -> None:
        self.destroy()


async def test_calls_during_self_destroy_wait_for_it(storage_url: str) -> None:
    """No second instance may start while ``self.destroy()`` is still shutting the first
    one down: calls racing it are served by a fresh actor, never fenced or lost."""
    async with Registry(Fragile).test_client(storage_url) as client:
        h = client.get_or_create(Fragile, "f")
        await h.inc()
        destroying = asyncio.ensure_future(h.self_destruct())
        await asyncio.sleep(0.01)
        racers = await asyncio.gather(*(h.inc() for _ in range(20)), return_exceptions=True)
        await destroying
        assert [r for r in racers if isinstance(r, BaseException)] == []
        assert sorted(racers) == list(range(1, 21))  # type: ignore[type-var]
        assert len(await client.list_actors()) == 1
    if storage_url.startswith("sqlite"):
        async with Registry(Fragile).test_client(storage_url) as client:
            assert await client.get(Fragile, "f").inc() == 21


async def test_unusual_but_valid_keys(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        keys = [["a\x00b"], ["", ""], ["é" * 64], ["🔑"], ["a", ""], [" "]]
        ids = [await client.get_or_create(Counter, k).resolve() for k in keys]
        assert len(set(ids)) == len(keys)
        for key, actor_id in zip(keys, ids, strict=True):
            assert await client.get(Counter, key).resolve() == actor_id
