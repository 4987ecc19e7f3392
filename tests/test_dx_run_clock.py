"""``self.now()``: actors read the runtime's clock, so ``MockClock`` controls time-based
logic such as a rate limiter (issue 15 item 12)."""

from __future__ import annotations

import pytest

from actorkit import Actor, ActorError, Registry, UserError, action
from actorkit.testing import MockClock


class Limiter(Actor):
    """At most 2 calls per 60 s window."""

    state = {"window_start": 0.0, "count": 0}

    @action
    def hit(self) -> int:
        now = self.now()
        if now - self.state["window_start"] >= 60:
            self.state["window_start"], self.state["count"] = now, 0
        if self.state["count"] >= 2:
            raise UserError("slow down", code="rate_limited")
        self.state["count"] += 1
        return int(self.state["count"])

    @action
    def time(self) -> float:
        return self.now()


registry = Registry(Limiter)


async def test_dx_run_now_is_the_mock_clock() -> None:
    clock = MockClock(start=1_000.0)
    async with registry.test_client(clock=clock) as client:
        limiter = client.get_or_create(Limiter, "u")
        assert await limiter.time() == 1_000.0
        await clock.advance(2.5)
        assert await limiter.time() == 1_002.5


async def test_dx_run_rate_limiter_with_mock_clock() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        limiter = client.get_or_create(Limiter, "u")
        assert [await limiter.hit(), await limiter.hit()] == [1, 2]
        with pytest.raises(ActorError) as err:
            await limiter.hit()
        assert err.value.code == "rate_limited"
        await clock.advance(59)
        with pytest.raises(ActorError):
            await limiter.hit()
        await clock.advance(1)
        assert await limiter.hit() == 1


async def test_dx_run_now_is_wall_clock_by_default() -> None:
    import time

    async with registry.test_client() as client:
        before = time.time()
        got = await client.get_or_create(Limiter, "u").time()
        assert before <= got <= time.time()
