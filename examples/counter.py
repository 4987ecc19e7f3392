"""The smallest actorkit program: a durable counter, called in-process.

Run it twice: the count keeps growing, because state lives in ./.actorkit on disk.
"""

from __future__ import annotations

import asyncio

from actorkit import Actor, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return self.state["count"]


registry = Registry(Counter)


async def main() -> None:
    async with registry.test_client("sqlite:///.actorkit") as client:
        count = await client.get_or_create(Counter, ["demo"]).increment(1)
        print(f"counter['demo'] = {count}")


if __name__ == "__main__":
    asyncio.run(main())
