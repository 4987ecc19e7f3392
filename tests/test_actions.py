"""Actions (DESIGN §1, §3): sync/async, validation, errors, timeouts, atomicity, re-entry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest

from actorkit import Actor, ActorError, ActorOptions, AsyncClient, Registry, UserError, action
from actorkit._runtime.node import Node
from actorkit.storage import MemoryDriver


class Point(msgspec.Struct):
    x: int
    y: int


class Calc(Actor):
    state = {"count": 0, "log": []}
    options = ActorOptions(action_timeout=0.2)

    @action
    def add(self, a: int, b: int = 10) -> int:
        return a + b

    @action
    async def add_async(self, a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    @action
    def norm(self, p: Point) -> int:
        return abs(p.x) + abs(p.y)

    @action
    def echo(self, value: list[str]) -> list[str]:
        return value

    @action
    def untyped(self, value, *rest):  # type: ignore[no-untyped-def]
        return [value, *rest]

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    async def slow_increment(self) -> int:
        self.state["count"] += 1
        await asyncio.sleep(0.01)
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def fail_user(self) -> None:
        self.state["count"] += 100
        self.state["log"].append("fail_user")
        raise UserError("not allowed", code="not_allowed", metadata={"why": ["x", 1]})

    @action
    def fail_internal(self) -> None:
        self.state["count"] = -1
        raise RuntimeError("secret password 1234")

    @action
    async def hang(self) -> None:
        self.state["count"] += 1000
        await asyncio.sleep(30)

    @action(timeout=0.05)
    async def hang_short(self) -> None:
        self.state["count"] += 1000
        await asyncio.sleep(30)

    @action(timeout=5.0)
    async def wait_a_bit(self) -> str:
        await asyncio.sleep(0.3)  # longer than the actor's 0.2 s default
        return "done"

    @action
    def bad_output(self) -> Any:
        self.state["count"] += 5
        return object()

    @action
    def bad_state(self) -> None:
        self.state["count"] += 5
        self.state["thing"] = object()


class Echo(Actor):
    @action
    def hello(self, name: str) -> str:
        return f"hello {name}"


registry = Registry(Calc, Echo)


@asynccontextmanager
async def restarted(storage_url: str, reg: Registry = registry) -> AsyncIterator[AsyncClient]:
    async with reg.test_client(storage_url) as client:
        yield client


async def assert_error(awaitable: Any, code: str, group: str | None = None) -> ActorError:
    with pytest.raises(ActorError) as info:
        await awaitable
    assert info.value.code == code, info.value
    if group is not None:
        assert info.value.group == group
    return info.value


async def test_sync_and_async_actions(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "c")
        assert await h.add(1, 2) == 3
        assert await h.add(1) == 11
        assert await h.add_async(2, 3) == 5
        assert await h.action("add", 4, 4) == 8
        assert await h.norm({"x": -3, "y": 4}) == 7
        assert await h.norm(Point(1, 2)) == 3
        assert await h.untyped("a", 1, None) == ["a", 1, None]
        assert await client.get_or_create("calc", "c").add(1, 1) == 2


async def test_stateless_actor_and_state_not_enabled() -> None:
    class NoState(Actor):
        @action
        def ok(self) -> str:
            return "fine"

        @action
        def read(self) -> Any:
            return self.state

        @action
        def write(self) -> None:
            self.state = {"a": 1}

    async with Registry(NoState).test_client() as client:
        h = client.get_or_create(NoState, "x")
        assert await h.ok() == "fine"
        err = await assert_error(h.read(), "state_not_enabled")
        assert "no_state" in err.message
        await assert_error(h.write(), "state_not_enabled")
        assert await h.ok() == "fine"


@pytest.mark.parametrize(
    ("action_name", "args", "param", "fragment"),
    [
        ("add", ["one", 2], "a", "Expected `int`"),
        ("add", [1, "two"], "b", "Expected `int`"),
        ("norm", [{"x": 1}], "p", "missing required field `y`"),
        ("norm", [{"x": "1", "y": 2}], "p", "Expected `int`"),
        ("echo", [["a", 2]], "value", "Expected `str`"),
        ("add", [], "a", "missing argument 'a'"),
    ],
)
async def test_validation_error_names_the_parameter(
    storage_url: str, action_name: str, args: list[Any], param: str, fragment: str
) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "v")
        await h.increment(1)
        err = await assert_error(h.action(action_name, *args), "validation_error", "request")
        assert err.metadata["param"] == param
        assert repr(param) in err.message
        assert fragment in err.message
        assert await h.get() == 1


async def test_too_many_arguments_is_validation_error() -> None:
    async with registry.test_client() as client:
        h = client.get_or_create(Calc, "v")
        err = await assert_error(h.add(1, 2, 3), "validation_error")
        assert "takes 2 argument(s), got 3" in err.message
        assert err.metadata == {"action": "add"}


async def test_unserializable_argument_is_validation_error() -> None:
    async with registry.test_client() as client:
        await assert_error(client.get_or_create(Calc, "v").untyped(object()), "validation_error")


async def test_action_not_found() -> None:
    async with registry.test_client() as client:
        h = client.get_or_create(Calc, "v")
        err = await assert_error(h.action("nope"), "action_not_found", "actor")
        assert err.metadata == {"action": "nope"}
        # Hooks and private methods are not actions.
        await assert_error(h.action("create_state", None), "action_not_found")
        await assert_error(h.action("_snapshot"), "action_not_found")
        await assert_error(h.action("destroy"), "action_not_found")


def test_hook_names_cannot_be_actions() -> None:
    class Bad(Actor):
        @action
        def on_wake(self) -> None: ...

    with pytest.raises(TypeError, match="cannot be an action"):
        Registry(Bad)


async def test_user_error_code_and_metadata_and_rollback(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "u")
        await h.increment(1)
        err = await assert_error(h.fail_user(), "not_allowed", "user")
        assert err.message == "not allowed"
        assert err.metadata == {"why": ["x", 1]}
        assert await h.get() == 1
        await h.increment(1)
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            h = client.get(Calc, "u")
            assert await h.get() == 2
            await assert_error(h.fail_user(), "not_allowed")
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "u").get() == 2


async def test_internal_error_is_sanitized_and_actor_keeps_working(
    storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with registry.test_client(storage_url, dev=False) as client:
        h = client.get_or_create(Calc, "i")
        await h.increment(3)
        with caplog.at_level(logging.ERROR, logger="actorkit"):
            err = await assert_error(h.fail_internal(), "internal_error", "internal")
        assert "secret" not in err.message and "RuntimeError" not in err.message
        assert err.metadata is None
        # The details are in the server log.
        assert any("secret password" in (r.exc_text or "") for r in caplog.records)
        assert await h.get() == 3
        assert await h.increment(1) == 4
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "i").get() == 4


async def test_action_timeout_per_actor_option_rolls_back(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "t")
        await h.increment(1)
        err = await assert_error(h.hang(), "action_timeout", "actor")
        assert err.metadata == {"action": "hang", "timeout": 0.2}
        assert await h.get() == 1
        assert await h.increment(1) == 2
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "t").get() == 2


async def test_action_timeout_per_action_decorator(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "t")
        err = await assert_error(h.hang_short(), "action_timeout")
        assert err.metadata == {"action": "hang_short", "timeout": 0.05}
        assert await h.get() == 0
        # A per-action timeout may also be longer than the actor's default.
        assert await h.wait_a_bit() == "done"


async def test_output_not_serializable_leaves_state(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "o")
        await h.increment(1)
        err = await assert_error(h.bad_output(), "output_not_serializable")
        assert err.metadata == {"action": "bad_output"}
        assert await h.get() == 1
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "o").get() == 1


async def test_state_not_serializable_leaves_state(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "s")
        await h.increment(1)
        await assert_error(h.bad_state(), "state_not_serializable")
        assert await h.get() == 1
        assert await h.increment(1) == 2
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "s").get() == 2


async def test_1000_concurrent_increments_are_exact(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Calc, "many")
        results = await asyncio.gather(*(h.increment(1) for _ in range(1000)))
        assert sorted(results) == list(range(1, 1001))
        # Async actions that await mid-way are serialised too.
        slow = await asyncio.gather(*(h.slow_increment() for _ in range(20)))
        assert sorted(slow) == list(range(1001, 1021))
    if storage_url.startswith("sqlite"):
        async with restarted(storage_url) as client:
            assert await client.get(Calc, "many").get() == 1020


class Gate(Actor):
    """A slow serial action waits on an event that only an interleaved action can set."""

    state = {"serial_done": False}

    def create_vars(self) -> dict[str, Any]:
        return {"event": asyncio.Event(), "started": asyncio.Event()}

    @action
    async def slow(self) -> str:
        self.vars["started"].set()
        await asyncio.wait_for(self.vars["event"].wait(), 10)
        self.state["serial_done"] = True
        return "slow done"

    @action(interleave=True)
    async def release(self) -> bool:
        self.vars["event"].set()
        return bool(self.state["serial_done"])

    @action(interleave=True)
    async def interleaved_fail(self) -> None:
        self.state["serial_done"] = "changed"
        raise UserError("boom", code="boom")

    @action
    def read(self) -> Any:
        return self.state["serial_done"]


class Mixed(Actor):
    """A serial action that fails after an interleaved action acknowledged a change."""

    state = {"serial": 0, "interleaved": 0}

    def create_vars(self) -> dict[str, Any]:
        return {"event": asyncio.Event(), "waiting": False}

    @action
    async def slow_fail(self) -> None:
        self.state["serial"] += 1
        self.vars["waiting"] = True
        await asyncio.wait_for(self.vars["event"].wait(), 10)
        self.state["serial"] += 100  # after the interleaved persist: rolled back
        raise UserError("fail", code="fail")

    @action(interleave=True)
    async def bump(self) -> int:
        self.state["interleaved"] += 1
        self.vars["event"].set()
        return int(self.state["interleaved"])

    @action(interleave=True)
    def waiting(self) -> bool:
        return bool(self.vars["waiting"])

    @action
    def read(self) -> Any:
        return self.state


async def test_interleaved_action_runs_while_serial_action_awaits(storage_url: str) -> None:
    async with Registry(Gate).test_client(storage_url) as client:
        h = client.get_or_create(Gate, "g")
        slow = asyncio.ensure_future(h.slow())
        # Without interleave this would deadlock (slow waits for release).
        assert await h.release() is False
        assert await slow == "slow done"
        assert await h.read() is True


async def test_interleaved_action_is_not_rolled_back() -> None:
    async with Registry(Gate).test_client() as client:
        h = client.get_or_create(Gate, "g")
        await assert_error(h.interleaved_fail(), "boom")
        assert await h.read() == "changed"


class Ping(Actor):
    state = {"hits": 0}

    @action
    async def start(self, depth: int) -> list[str]:
        self.state["hits"] += 1
        if depth == 0:
            return [f"ping:{self.key[0]}"]
        pong = self.client.get_or_create(Pong, self.key)
        return [f"ping:{self.key[0]}", *(await pong.back(depth))]

    @action
    def hits(self) -> int:
        return int(self.state["hits"])


class Pong(Actor):
    @action
    async def back(self, depth: int) -> list[str]:
        ping = self.client.get_or_create(Ping, self.key)
        return ["pong", *(await ping.start(depth - 1))]


async def test_reentrant_call_chain_completes(storage_url: str) -> None:
    async with Registry(Ping, Pong).test_client(storage_url) as client:
        h = client.get_or_create(Ping, "r")
        result = await asyncio.wait_for(h.start(2), 10)
        assert result == ["ping:r", "pong", "ping:r", "pong", "ping:r"]
        assert await h.hits() == 3
        # Concurrent chains on the same actor still each complete.
        many = await asyncio.wait_for(asyncio.gather(*(h.start(1) for _ in range(10))), 20)
        assert all(r == ["ping:r", "pong", "ping:r"] for r in many)
        assert await h.hits() == 23


async def test_actor_to_actor_calls_through_self_client(storage_url: str) -> None:
    class Caller(Actor):
        @action
        async def greet(self, name: str) -> str:
            return str(await self.client.get_or_create(Echo, name).hello(name))

        @action
        async def count_elsewhere(self) -> int:
            return int(await self.client.get_or_create(Calc, "x").increment(2))

    async with Registry(Caller, Echo, Calc).test_client(storage_url) as client:
        caller = client.get_or_create(Caller, "c")
        assert await caller.greet("bob") == "hello bob"
        assert await caller.count_elsewhere() == 2
        assert await client.get(Calc, "x").get() == 2


def test_node_without_client_factory_has_no_self_client() -> None:
    node = Node(Registry(Echo), MemoryDriver())
    with pytest.raises(RuntimeError, match="client_factory"):
        _ = node.client


async def test_on_before_action_response_can_rewrite_output() -> None:
    class Wrapped(Actor):
        seen: list[Any] = []

        def on_before_action_response(self, name: str, args: list[Any], output: Any) -> Any:
            Wrapped.seen.append((name, args, output))
            return {"action": name, "output": output}

        @action
        def double(self, n: int) -> int:
            return n * 2

    async with Registry(Wrapped).test_client() as client:
        # By name: a typed handle would convert the output to the declared ``int``.
        assert await client.get_or_create("wrapped", "w").double(4) == {
            "action": "double",
            "output": 8,
        }
        assert Wrapped.seen == [("double", [4], 8)]


async def test_on_before_action_response_failure_rolls_back() -> None:
    class Picky(Actor):
        state = {"n": 0}

        def on_before_action_response(self, name: str, args: list[Any], output: Any) -> Any:
            if args == [True]:
                raise UserError("refused", code="refused")
            return output

        @action
        def bump(self, refuse: bool = False) -> int:
            self.state["n"] += 1
            return int(self.state["n"])

    async with Registry(Picky).test_client() as client:
        h = client.get_or_create(Picky, "p")
        assert await h.bump() == 1
        await assert_error(h.bump(True), "refused")
        assert await h.bump() == 2


async def test_typed_handle_converts_return_value() -> None:
    class Shapes(Actor):
        @action
        def origin(self) -> Point:
            return Point(0, 0)

    async with Registry(Shapes).test_client() as client:
        assert await client.get_or_create(Shapes, "s").origin() == Point(0, 0)
        assert await client.get_or_create("shapes", "s").origin() == {"x": 0, "y": 0}


async def test_failed_serial_action_keeps_acknowledged_interleaved_change(
    storage_url: str,
) -> None:
    async with Registry(Mixed).test_client(storage_url) as client:
        h = client.get_or_create(Mixed, "m")
        slow = asyncio.ensure_future(h.slow_fail())
        while not await h.waiting():  # until slow_fail holds the turn and awaits
            assert not slow.done()
            await asyncio.sleep(0.001)
        assert await h.bump() == 1
        await assert_error(slow, "fail")
        # The interleaved action's acknowledged change survives the serial rollback; the
        # serial action's changes made before that persist were made durable with it.
        assert await h.read() == {"serial": 1, "interleaved": 1}
    if storage_url.startswith("sqlite"):
        async with Registry(Mixed).test_client(storage_url) as client:
            assert await client.get(Mixed, "m").read() == {"serial": 1, "interleaved": 1}


async def test_unserializable_params_is_validation_error() -> None:
    async with registry.test_client() as client:
        err = await assert_error(
            client.get_or_create(Calc, "p", params=object()).add(1, 2), "validation_error"
        )
        assert "params" in err.message


class Outer(Actor):
    state = {"log": []}

    @action
    async def outer(self) -> Any:
        self.state["log"].append("outer")
        try:
            await self.client.get_or_create(Relay, self.key).relay()
        except ActorError as err:
            self.state["log"].append(f"caught {err.code}")
        return self.state["log"]

    @action
    def inner_fails(self) -> None:
        self.state["log"].append("inner")
        raise UserError("no", code="inner_failed")

    @action
    def read(self) -> Any:
        return self.state["log"]


class Relay(Actor):
    @action
    async def relay(self) -> None:
        await self.client.get_or_create(Outer, self.key).inner_fails()


async def test_failed_reentrant_call_leaves_no_trace(storage_url: str) -> None:
    """A → B → A where the inner A call fails and the outer one catches the error: only the
    inner call's changes are rolled back."""
    async with Registry(Outer, Relay).test_client(storage_url) as client:
        h = client.get_or_create(Outer, "o")
        assert await h.outer() == ["outer", "caught inner_failed"]
    if storage_url.startswith("sqlite"):
        async with Registry(Outer, Relay).test_client(storage_url) as client:
            assert await client.get(Outer, "o").read() == ["outer", "caught inner_failed"]


async def test_raw_handler_change_survives_a_failing_serial_action(storage_url: str) -> None:
    """Raw HTTP/WebSocket hooks run like interleaved actions (``Node.run_in_actor``): a serial
    action that fails while one is running must not roll back the hook's change."""

    class Raw(Actor):
        state = {"raw": 0, "serial": 0}

        @action
        def fail(self) -> None:
            self.state["serial"] += 1
            raise UserError("fail", code="fail")

        @action
        def read(self) -> Any:
            return self.state

    async with Registry(Raw).test_client(storage_url) as client:
        h = client.get_or_create(Raw, "r")
        actor_id = await h.resolve()
        await h.read()  # a completed turn: the state is known to equal what was persisted
        node = client._transport.node  # type: ignore[attr-defined]
        go = asyncio.Event()

        async def handler(actor: Actor) -> str:
            actor.state["raw"] += 1
            await asyncio.wait_for(go.wait(), 10)
            return "ok"

        raw = asyncio.ensure_future(node.run_in_actor(actor_id, "raw", handler))
        await asyncio.sleep(0.01)
        await assert_error(h.fail(), "fail")
        go.set()
        assert await raw == "ok"
        assert await h.read() == {"raw": 1, "serial": 0}
    if storage_url.startswith("sqlite"):
        async with Registry(Raw).test_client(storage_url) as client:
            assert await client.get(Raw, "r").read() == {"raw": 1, "serial": 0}
