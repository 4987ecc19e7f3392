"""``@action(blocking=True)``: a blocking action runs in a worker thread with its turn held;
in dev mode, actor code that blocks the event loop is named in the log (issue 15 item 1)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from actorkit import Actor, ActorError, Registry, action, blocking
from actorkit.testing import settle


class Shop(Actor):
    state = {"log": [], "total": 0}

    @action(blocking=True)
    def checkout(self, amount: int) -> str:
        # Blocks on an event set by the test: proves the loop keeps running meanwhile.
        assert GATE.wait(timeout=30)
        self.state["total"] += amount
        self.state["log"].append("checkout")
        self.broadcast("paid", amount)
        return threading.current_thread().name

    @action(blocking=True)
    def fail(self) -> None:
        self.state["total"] += 1000
        raise RuntimeError("card declined")

    @action
    def note(self, text: str) -> list[str]:
        self.state["log"].append(text)
        return list(self.state["log"])

    @action
    def total(self) -> int:
        return int(self.state["total"])

    @action
    def nap(self, seconds: float) -> None:
        time.sleep(seconds)  # blocks the event loop: what dev mode reports

    @action
    async def busy(self, seconds: float) -> None:
        await asyncio.sleep(0)
        time.sleep(seconds)  # noqa: ASYNC251  (the mistake dev mode must report)

    def on_wake(self) -> None:
        if self.key == ("slow-wake",):
            time.sleep(0.15)


GATE = threading.Event()
registry = Registry(Shop)


async def test_dx_run_blocking_action_runs_in_thread_and_holds_the_turn() -> None:
    GATE.clear()
    async with registry.test_client() as client:
        shop = client.get_or_create(Shop, "a")
        other = client.get_or_create(Shop, "b")
        await shop.note("first")
        slow = asyncio.ensure_future(shop.checkout(5))
        same_actor = asyncio.ensure_future(shop.note("second"))
        await settle()
        # The loop is free: another actor is served while the thread blocks ...
        assert await other.note("elsewhere") == ["elsewhere"]
        # ... but this actor's turn is held: its next call waits for the blocking one.
        assert not slow.done() and not same_actor.done()
        GATE.set()
        assert (await slow).startswith("actorkit-blocking")
        assert await same_actor == ["first", "checkout", "second"]
        assert await shop.total() == 5


async def test_dx_run_blocking_action_that_raises_is_rolled_back() -> None:
    async with registry.test_client(dev=False) as client:
        shop = client.get_or_create(Shop, "a")
        with pytest.raises(ActorError) as err:
            await shop.fail()
        assert err.value.code == "internal_error"
        assert await shop.total() == 0


async def test_dx_run_blocking_action_broadcast_reaches_a_connection() -> None:
    GATE.set()
    async with registry.test_client() as client:
        conn = client.get_or_create(Shop, "a").connect()
        async with conn:
            got: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            conn.on("paid", lambda amount: got.done() or got.set_result(amount))
            await conn.checkout(7)
            assert await asyncio.wait_for(got, 30) == 7


def test_dx_run_blocking_refuses_async_and_interleaved() -> None:
    class Bad(Actor):
        @action(blocking=True)
        async def go(self) -> None: ...

    with pytest.raises(TypeError, match="blocking=True"):
        Registry(Bad)

    class Bad2(Actor):
        @action(blocking=True, interleave=True)
        def go(self) -> None: ...

    with pytest.raises(TypeError, match="interleave"):
        Registry(Bad2)


async def test_dx_run_dev_mode_names_code_that_blocks_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    GATE.set()
    caplog.set_level(logging.WARNING, logger="actorkit")
    async with registry.test_client(dev=True) as client:
        shop = client.get_or_create(Shop, "a")
        await shop.checkout(1)  # in a thread: not reported
        await shop.note("quick")  # fast: not reported
        assert "blocked the event loop" not in caplog.text
        await shop.nap(0.15)
        await shop.busy(0.15)
        await client.get_or_create(Shop, "slow-wake").note("x")
    lines = [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]
    assert len(lines) == 3, lines
    assert lines[0].startswith("`Shop.nap` blocked the event loop for 0.")
    assert lines[0].endswith("; make it async or mark it @action(blocking=True)")
    assert lines[1].startswith("`Shop.busy` blocked")
    assert "asyncio.to_thread" in lines[1]
    assert lines[2].startswith("`Shop.on_wake` blocked")
    assert not any("checkout" in line or "note" in line for line in lines)


async def test_dx_run_blocking_loop_is_not_reported_outside_dev(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actorkit")
    async with registry.test_client(dev=False) as client:
        await client.get_or_create(Shop, "a").nap(0.15)
    async with registry.test_client(dev=True) as client:
        await client.get_or_create(Shop, "a").nap(0.15)
    assert caplog.text.count("blocked the event loop") == 1


HOOK_GATE = threading.Event()


class Loader(Actor):
    @blocking
    def create_vars(self) -> str:
        assert HOOK_GATE.wait(timeout=30)  # a slow, blocking load
        return threading.current_thread().name

    @action
    def loaded_by(self) -> str:
        return str(self.vars)


class Other(Actor):
    @action
    def release(self) -> None:
        HOOK_GATE.set()


async def test_dx_run_blocking_hook_runs_in_a_thread(caplog: pytest.LogCaptureFixture) -> None:
    HOOK_GATE.clear()
    caplog.set_level(logging.WARNING, logger="actorkit")
    async with Registry(Loader, Other).test_client(dev=True) as client:
        loading = asyncio.ensure_future(client.get_or_create(Loader, "l").loaded_by())
        # Served while create_vars blocks its thread (else: a deadlock, then the timeout).
        await client.get_or_create(Other, "o").release()
        assert (await loading).startswith("actorkit-blocking")
    assert "blocked the event loop" not in caplog.text


def test_dx_run_blocking_hook_must_be_sync() -> None:
    with pytest.raises(TypeError, match="@blocking is for a plain def"):

        class Bad(Actor):
            @blocking
            async def on_wake(self) -> None: ...


FINISHED = threading.Event()


class Slowpoke(Actor):
    state = {"n": 0}

    @action(blocking=True, timeout=0.05)
    def crunch(self) -> None:
        self.state["n"] += 1
        time.sleep(0.3)  # longer than its timeout; a thread cannot be interrupted
        FINISHED.set()

    @action
    def n(self) -> int:
        return int(self.state["n"])


async def test_dx_run_blocking_timeout_waits_for_the_thread_then_rolls_back() -> None:
    FINISHED.clear()
    async with Registry(Slowpoke).test_client() as client:
        slowpoke = client.get_or_create(Slowpoke, "s")
        with pytest.raises(ActorError) as err:
            await slowpoke.crunch()
        assert err.value.code == "action_timeout"
        # The turn was held until the thread returned, and its change was rolled back.
        assert FINISHED.is_set()
        assert await slowpoke.n() == 0
