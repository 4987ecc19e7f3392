"""Core runtime behaviour through the in-process client, on every driver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actorkit import Actor, ActorError, Registry, UserError, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return self.state["count"]

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def fail_after_change(self) -> None:
        self.state["count"] += 100
        raise UserError("nope", code="nope", metadata={"x": 1})

    @action
    def crash(self) -> None:
        self.state["count"] = -1
        raise RuntimeError("secret detail")


registry = Registry(Counter)


async def test_state_persists_across_restart(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        assert await client.get_or_create(Counter, "a").increment(5) == 5
    if storage_url.startswith("sqlite"):
        async with registry.test_client(storage_url) as client:
            assert await client.get(Counter, "a").get() == 5


async def test_user_error_keeps_code_and_rolls_back(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Counter, "a")
        await h.increment(1)
        with pytest.raises(ActorError) as info:
            await h.fail_after_change()
        err = info.value
        assert (err.group, err.code, err.metadata) == ("user", "nope", {"x": 1})
        assert await h.get() == 1


async def test_internal_error_is_sanitized(storage_url: str) -> None:
    async with registry.test_client(storage_url, dev=False) as client:
        h = client.get_or_create(Counter, "a")
        with pytest.raises(ActorError) as info:
            await h.crash()
        assert info.value.code == "internal_error"
        assert "secret" not in info.value.message
        assert await h.get() == 0


async def test_concurrent_increments_are_exact(storage_url: str) -> None:
    async with registry.test_client(storage_url) as client:
        h = client.get_or_create(Counter, "a")
        results: list[Any] = await asyncio.gather(*(h.increment(1) for _ in range(1000)))
        assert sorted(results) == list(range(1, 1001))
        assert await h.get() == 1000
