"""Background work starts from a clean call chain.

An actor's ``run()`` task is created while the call that woke the actor runs, and a schedule
timer while the call that armed it runs; both used to inherit that call's chain of turns.
Their turns then counted as part of the caller's chain: they could re-enter an actor that
was mid-turn for someone else (and a background task kept the caller's identity).
"""

from __future__ import annotations

import asyncio
from typing import Any

from actorkit import Actor, Registry, action
from actorkit._runtime import context


class Sleeper(Actor):
    def create_vars(self) -> dict[str, Any]:
        return {"run": None, "fired": None, "ran": asyncio.Event(), "done": asyncio.Event()}

    async def run(self) -> None:
        self.vars["run"] = len(context.call_chain.get())  # turns held by this task
        self.vars["ran"].set()
        await asyncio.Event().wait()  # until the actor sleeps

    @action
    def ping(self) -> None:
        pass

    @action
    def arm(self) -> None:
        self.schedule.after(0, "fired")

    @action
    def fired(self) -> None:
        self.vars["fired"] = len(context.call_chain.get())  # this turn's own token: 1
        self.vars["done"].set()

    @action(interleave=True)
    async def seen(self) -> dict[str, int | None]:
        await self.vars["ran"].wait()
        return {"run": self.vars["run"], "fired": self.vars["fired"]}

    @action(interleave=True)
    async def seen_fired(self) -> int | None:
        await self.vars["done"].wait()
        return self.vars["fired"]


class Waker(Actor):
    @action
    async def wake(self, key: str) -> None:
        await self.client.get_or_create(Sleeper, key).ping()

    @action
    async def arm(self, key: str) -> None:
        await self.client.get_or_create(Sleeper, key).arm()


registry = Registry(Sleeper, Waker)


async def test_run_starts_outside_the_call_that_woke_the_actor() -> None:
    async with registry.test_client("memory://") as client:
        await client.get_or_create(Waker, "w").wake("s")  # Waker's turn wakes Sleeper
        seen = await client.get_or_create(Sleeper, "s").seen()
        assert seen["run"] == 0


async def test_a_schedule_fires_outside_the_call_that_armed_it() -> None:
    async with registry.test_client("memory://") as client:
        await client.get_or_create(Waker, "w").arm("t")  # armed inside Waker → Sleeper
        assert await client.get_or_create(Sleeper, "t").seen_fired() == 1
