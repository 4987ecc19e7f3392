"""Lifecycle hooks (DESIGN §1): order, input, vars, failures, logging."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from actorkit import Actor, ActorError, ActorOptions, Registry, UserError, action

CALLS: list[str] = []


class Tracked(Actor):
    def create_state(self, input: Any) -> dict[str, Any]:
        CALLS.append(f"create_state:{input}")
        return {"input": input, "n": 0}

    async def on_create(self, input: Any) -> None:
        await asyncio.sleep(0)
        CALLS.append(f"on_create:{input}")
        self.state["n"] = 1  # on_create may initialise state; it is persisted

    def create_vars(self) -> dict[str, Any]:
        CALLS.append("create_vars")
        return {"calls": 0}

    async def on_wake(self) -> None:
        CALLS.append("on_wake")

    def on_sleep(self) -> None:
        CALLS.append("on_sleep")

    def on_destroy(self) -> None:
        CALLS.append(f"on_destroy:{self.state['n']}")

    @action
    def touch(self) -> list[Any]:
        self.vars["calls"] += 1
        self.state["n"] += 1
        return [self.state["input"], self.state["n"], self.vars["calls"]]


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


async def test_hook_order_on_create_and_on_later_wake(storage_url: str) -> None:
    registry = Registry(Tracked)
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Tracked, "a", input={"x": 1})
        assert await h.touch() == [{"x": 1}, 2, 1]
        assert await h.touch() == [{"x": 1}, 3, 2]
        assert CALLS == [
            "create_state:{'x': 1}",
            "on_create:{'x': 1}",
            "create_vars",
            "on_wake",
        ]
    assert CALLS[-1] == "on_sleep"
    if storage_url.startswith("sqlite"):
        CALLS.clear()
        async with registry.test_client(storage_url) as client:
            # State survives; vars are rebuilt per instance; only wake hooks run.
            assert await client.get_or_create(Tracked, "a", input={"x": 2}).touch() == [
                {"x": 1},
                4,
                1,
            ]
        assert CALLS == ["create_vars", "on_wake", "on_sleep"]


async def test_create_runs_hooks_at_creation_time(storage_url: str) -> None:
    async with Registry(Tracked).test_client(storage_url) as client:
        await client.create(Tracked, "b", input=7)
        assert CALLS == ["create_state:7", "on_create:7", "create_vars", "on_wake"]


async def test_vars_are_per_instance(storage_url: str) -> None:
    async with Registry(Tracked).test_client(storage_url) as client:
        a, b = client.get_or_create(Tracked, "a"), client.get_or_create(Tracked, "b")
        assert (await a.touch())[2] == 1
        assert (await a.touch())[2] == 2
        assert (await b.touch())[2] == 1


async def test_class_state_is_deep_copied_per_actor() -> None:
    class Lists(Actor):
        state = {"items": []}

        @action
        def add(self, item: str) -> list[str]:
            self.state["items"].append(item)
            return list(self.state["items"])

    async with Registry(Lists).test_client() as client:
        assert await client.get_or_create(Lists, "a").add("x") == ["x"]
        assert await client.get_or_create(Lists, "b").add("y") == ["y"]
    assert Lists.state == {"items": []}


async def test_destroy_runs_on_destroy_with_a_working_actor(storage_url: str) -> None:
    async with Registry(Tracked).test_client(storage_url) as client:
        h = client.get_or_create(Tracked, "d")
        await h.touch()
        await h.destroy()
        assert CALLS[-1] == "on_destroy:2"
        CALLS.clear()
        assert (await client.get_or_create(Tracked, "d").touch())[1] == 2
        assert CALLS[:2] == ["create_state:None", "on_create:None"]


def failing(hook: str, exc: BaseException) -> type[Actor]:
    """An actor class whose ``hook`` raises ``exc``."""

    class Failing(Actor):
        state = {"n": 0}

        @action
        def get(self) -> int:
            return int(self.state["n"])

    def raiser(self: Actor, *args: Any) -> None:
        raise exc

    setattr(Failing, hook, raiser)
    return Failing


@pytest.mark.parametrize("hook", ["create_state", "on_create", "create_vars", "on_wake"])
async def test_failing_create_hook_is_hook_failed_and_key_stays_free(
    storage_url: str, hook: str
) -> None:
    cls = failing(hook, RuntimeError("hidden detail"))
    async with Registry(cls).test_client(storage_url, dev=False) as client:
        for attempt in range(2):
            with pytest.raises(ActorError) as info:
                await client.get_or_create(cls, "k", input={"a": attempt}).get()
            assert (info.value.group, info.value.code) == ("actor", "hook_failed")
            assert hook in info.value.message
            assert "hidden detail" not in info.value.message
            assert info.value.metadata == {"hook": hook}
        with pytest.raises(ActorError) as info:
            await client.create(cls, "k")
        assert info.value.code == "hook_failed"
        assert await client.list_actors() == []
        with pytest.raises(ActorError) as info:
            await client.get(cls, "k").get()
        assert info.value.code == "actor_not_found"


async def test_failing_hook_in_dev_mode_names_the_exception() -> None:
    cls = failing("on_create", ValueError("bad config"))
    async with Registry(cls).test_client(dev=True) as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(cls, "k").get()
        assert info.value.code == "hook_failed"
        assert "ValueError: bad config" in info.value.message


async def test_user_error_in_hook_keeps_its_code() -> None:
    cls = failing("create_state", UserError("quota reached", code="quota", metadata={"max": 3}))
    async with Registry(cls).test_client() as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(cls, "k").get()
        assert (info.value.group, info.value.code) == ("user", "quota")
        assert info.value.metadata == {"max": 3}
        assert await client.list_actors() == []


async def test_failing_on_wake_after_restart_keeps_actor_and_state(sqlite_url: str) -> None:
    class Waker(Actor):
        name = "waker"
        state = {"n": 0}

        @action
        def bump(self) -> int:
            self.state["n"] += 1
            return int(self.state["n"])

    async with Registry(Waker).test_client(sqlite_url) as client:
        actor_id = await client.get_or_create(Waker, "w").resolve()
        assert await client.get(Waker, "w").bump() == 1

    class BrokenWaker(Waker):
        name = "waker"

        def on_wake(self) -> None:
            raise RuntimeError("cannot wake")

    async with Registry(BrokenWaker).test_client(sqlite_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get(BrokenWaker, "w").bump()
        assert info.value.code == "hook_failed"
        assert await client.get(BrokenWaker, "w").resolve() == actor_id

    async with Registry(Waker).test_client(sqlite_url) as client:
        assert await client.get(Waker, "w").bump() == 2


async def test_on_create_may_call_other_actors() -> None:
    class Child(Actor):
        state = {"parent": None}

        @action
        def adopt(self, parent: str) -> None:
            self.state["parent"] = parent

        @action
        def parent(self) -> Any:
            return self.state["parent"]

    class Parent(Actor):
        async def on_create(self, input: Any) -> None:
            await self.client.get_or_create(Child, self.key).adopt(self.id)

        @action
        def ok(self) -> bool:
            return True

    async with Registry(Parent, Child).test_client() as client:
        parent = client.get_or_create(Parent, "p")
        assert await parent.ok()
        assert await client.get(Child, "p").parent() == await parent.resolve()


async def test_self_log_carries_actor_key_and_id(caplog: pytest.LogCaptureFixture) -> None:
    class Logger(Actor):
        @action
        def say(self, text: str) -> None:
            self.log.info("said %s", text)

    async with Registry(Logger).test_client() as client:
        h = client.get_or_create(Logger, ["a", "b"])
        with caplog.at_level(logging.INFO, logger="actorkit"):
            await h.say("hi")
        (rec,) = [r for r in caplog.records if r.getMessage() == "said hi"]
        assert rec.actor == "logger"  # type: ignore[attr-defined]
        assert rec.key == ("a", "b")  # type: ignore[attr-defined]
        assert rec.actor_id == await h.resolve()  # type: ignore[attr-defined]


async def test_metadata_members() -> None:
    class Meta(Actor):
        @action
        def meta(self) -> list[Any]:
            return [self.id, self.name, list(self.key), self.region, self.conn]

    async with Registry(Meta).test_client() as client:
        h = client.get_or_create(Meta, ["x", "y"], region="eu")
        actor_id = await h.resolve()
        assert await h.meta() == [actor_id, "meta", ["x", "y"], "eu", None]


async def test_slow_wake_hook_times_out_with_hook_failed(storage_url: str) -> None:
    class Sluggish(Actor):
        options = ActorOptions(hook_timeout=0.05)
        state = {"n": 0}

        async def on_wake(self) -> None:
            await asyncio.sleep(30)

        @action
        def get(self) -> int:
            return int(self.state["n"])

    async with Registry(Sluggish).test_client(storage_url) as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create(Sluggish, "s").get()
        assert info.value.code == "hook_failed"
        assert "on_wake timed out after 0.05 s" in info.value.message
        assert await client.list_actors() == []


async def test_full_queue_is_overloaded_and_actor_recovers() -> None:
    class Busy(Actor):
        options = ActorOptions(max_queue=5)
        state = {"n": 0}

        def create_vars(self) -> dict[str, Any]:
            return {"go": asyncio.Event()}

        @action
        async def block(self) -> None:
            await asyncio.wait_for(self.vars["go"].wait(), 10)

        @action(interleave=True)
        def release(self) -> None:
            self.vars["go"].set()

        @action
        def bump(self) -> int:
            self.state["n"] += 1
            return int(self.state["n"])

    async with Registry(Busy).test_client() as client:
        h = client.get_or_create(Busy, "b")
        await h.resolve()
        blocker = asyncio.ensure_future(h.block())
        await asyncio.sleep(0.01)
        waiting = [asyncio.ensure_future(h.bump()) for _ in range(8)]
        await asyncio.sleep(0.01)
        await h.release()
        await blocker
        results = await asyncio.gather(*waiting, return_exceptions=True)
        overloaded = [r for r in results if isinstance(r, ActorError)]
        assert len(overloaded) == 3
        assert all(e.code == "overloaded" for e in overloaded)
        assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 3, 4, 5]
        assert await h.bump() == 6
