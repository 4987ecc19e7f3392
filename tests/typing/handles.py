"""Checked by mypy (with the actorkit.mypy plugin) in tests/test_typing.py, never run."""

# ruff: noqa: E501, B018

from __future__ import annotations

from typing import reveal_type

import actorkit
from actorkit import Actor, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        return 0

    @action
    async def label(self, prefix: str, n: int) -> str:
        return ""

    @action
    def reset(self) -> None:
        pass

    def helper(self) -> int:
        return 1

    @action(interleave=True)
    async def twice(self, prefix: str) -> str:
        # An action called on self is a plain method call with its own signature.
        reveal_type(self.label)  # R: def (prefix: str, n: int) -> typing.Coroutine[Any, Any, str]
        reveal_type(await self.label(prefix, 2))  # R: str
        reveal_type(self.increment(3))  # R: int
        self.reset()
        await self.label(prefix)  # E: Too few arguments
        self.increment("x")  # E: Argument 1 has incompatible type "str"; expected "int"
        return ""


async def check_async(client: actorkit.AsyncClient) -> None:
    counter = client.get_or_create(Counter, ["k"])
    reveal_type(counter)  # R: actorkit.client.base.ActorHandle[handles.Counter]
    reveal_type(counter.increment)  # R: def (amount: int =) -> typing.Coroutine[Any, Any, int]
    reveal_type(await counter.increment(5))  # R: int
    reveal_type(counter.label)  # R: def (prefix: str, n: int) -> typing.Coroutine[Any, Any, str]
    reveal_type(await client.get(Counter, "k").reset())  # R: None
    by_name = client.get_or_create("counter", ["k"])
    reveal_type(by_name.anything)  # R: def (*Any, **Any) -> typing.Awaitable[Any]
    await counter.increment("five")  # E: Argument 1 to "increment" has incompatible type "str"; expected "int"
    await counter.label("x")  # E: Missing positional argument "n" in call to "label"
    counter.nope  # E: "Counter" has no action "nope"
    counter.helper  # E: "Counter" has no action "helper"
    reveal_type(await (await client.create(Counter)).increment())  # R: int
    reveal_type(await counter.label(prefix="a", n=1))  # R: str
    await counter.label("a", m=1)  # E: Unexpected keyword argument "m" for "label"
    reveal_type(client.get_for_id("actor-id"))  # R: actorkit.client.base.ActorHandle[Any]
    reveal_type(client.get_for_id(Counter, "actor-id"))  # R: actorkit.client.base.ActorHandle[handles.Counter]


def check_sync(client: actorkit.Client) -> None:
    counter = client.get_or_create(Counter, ["k"])
    reveal_type(counter.increment)  # R: def (amount: int =) -> int
    reveal_type(counter.increment(2))  # R: int
    reveal_type(client.get_for_id(Counter, "id").label("a", 1))  # R: str
    reveal_type(client.get_for_id("id"))  # R: actorkit.client.sync.SyncActorHandle[Any]
    counter.increment(amount="x")  # E: Argument "amount" to "increment" has incompatible type "str"; expected "int"
