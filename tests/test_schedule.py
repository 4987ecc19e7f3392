"""Durable schedules, driven by a MockClock."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from actorkit import Actor, ActorError, ActorOptions, Registry, action
from actorkit.testing import MockClock
from runtime_helpers import awake, wait_for

FIRED: list[Any] = []


class Job(Actor):
    state = {"runs": 0, "fail_until": 0}
    options = ActorOptions(max_schedules=3)

    @action
    def later(self, seconds: float, text: str) -> str:
        return self.schedule.after(seconds, "work", text)

    @action
    def at(self, when: float, text: str) -> str:
        return self.schedule.at(when, "work", text)

    @action
    def later_then_fail(self, seconds: float) -> None:
        self.schedule.after(seconds, "work", "never")
        raise ValueError("rolled back")

    @action
    def cancel(self, schedule_id: str) -> bool:
        return self.schedule.cancel(schedule_id)

    @action
    def pending(self) -> list[dict[str, Any]]:
        return [{"id": c.id, "action": c.action, "args": c.args} for c in self.schedule.list()]

    @action
    def set_failures(self, n: int) -> None:
        self.state["fail_until"] = n

    @action
    def work(self, text: str) -> None:
        firing = self.schedule.current
        assert firing is not None
        self.state["runs"] += 1
        if firing.attempt <= self.state["fail_until"]:
            raise RuntimeError("flaky")
        FIRED.append((self.key[0], text, firing.attempt))

    @action
    def runs(self) -> int:
        return int(self.state["runs"])

    @action
    def current_outside_schedule(self) -> bool:
        return self.schedule.current is None


registry = Registry(Job)


@pytest.fixture(autouse=True)
def _reset() -> None:
    FIRED.clear()


async def test_after_fires_once_at_its_time(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        await job.later(10, "hello")
        await clock.advance(9)
        assert FIRED == []
        await clock.advance(2)
        await wait_for(lambda: FIRED == [("a", "hello", 1)])
        assert await job.pending() == []
        assert await job.current_outside_schedule() is True


async def test_schedule_wakes_a_sleeping_actor(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        actor_id = await job.resolve()
        await job.later(120, "wake up")
        await clock.advance(31)
        await wait_for(lambda: not awake(client, actor_id))
        assert FIRED == []
        await clock.advance(100)
        await wait_for(lambda: FIRED == [("a", "wake up", 1)])


async def test_schedule_survives_restart_and_fires_overdue(sqlite_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(sqlite_url, clock=clock) as client:
        await client.get_or_create(Job, "a").later(60, "persisted")
    clock2 = MockClock(start=clock.now() + 3600)  # the process was down for an hour
    async with registry.test_client(sqlite_url, clock=clock2) as client:
        await clock2.advance(1)
        await wait_for(lambda: FIRED == [("a", "persisted", 1)])


async def test_cancel_prevents_firing(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        sid = await job.later(10, "x")
        assert await job.cancel(sid) is True
        assert await job.cancel(sid) is False
        await clock.advance(20)
        await asyncio.sleep(0.05)
        assert FIRED == []


async def test_failed_schedule_is_retried_with_backoff(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        await job.set_failures(2)
        await job.later(1, "eventually")
        await clock.advance(1.5)
        await wait_for(lambda: len(asyncio.all_tasks()) > 0)
        await clock.advance(2.1)  # retry 1 after 2 s
        await clock.advance(4.1)  # retry 2 after 4 s
        await wait_for(lambda: FIRED == [("a", "eventually", 3)])
        # Failed attempts were rolled back: only the successful run's increment stayed.
        assert await job.runs() == 1


async def test_schedule_made_by_failed_action_is_rolled_back(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        with pytest.raises(ActorError):
            await job.later_then_fail(5)
        assert await job.pending() == []


async def test_schedule_at_and_limits(storage_url: str) -> None:
    clock = MockClock()
    async with registry.test_client(storage_url, clock=clock) as client:
        job = client.get_or_create(Job, "a")
        await job.at(clock.now() + 5, "at")
        await job.later(100, "b")
        await job.later(100, "c")
        with pytest.raises(ActorError) as info:
            await job.later(100, "d")
        assert info.value.code == "too_many_schedules"
        assert len(await job.pending()) == 3
        await clock.advance(6)
        await wait_for(lambda: FIRED == [("a", "at", 1)])


def test_schedule_at_rejects_naive_datetime() -> None:
    from actorkit._runtime.schedule import Schedule

    with pytest.raises(ActorError) as info:
        Schedule.at(None, dt.datetime(2030, 1, 1), "work")  # type: ignore[arg-type]
    assert info.value.code == "validation_error"
