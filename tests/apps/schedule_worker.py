"""A separate process for crash tests of schedules (run by tests/test_schedule_crash.py).

``schedule DIR N``: create N actors that each schedule ``mark`` 1 s ahead, print ``ACK i``
as each schedule is acknowledged, then idle until killed.
``check DIR N``: start again on the same storage and print ``FIRED i count`` once every
actor's schedule has fired.
"""

from __future__ import annotations

import asyncio
import sys

from actorkit import Actor, Registry, action


class Reminder(Actor):
    state = {"fired": 0}

    @action
    def arm(self) -> str:
        return self.schedule.after(1.0, "mark")

    @action
    def mark(self) -> None:
        self.state["fired"] += 1

    @action
    def fired(self) -> int:
        return int(self.state["fired"])


registry = Registry(Reminder)


async def main(mode: str, directory: str, n: int) -> None:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        if mode == "schedule":
            for i in range(n):
                await client.get_or_create(Reminder, str(i)).arm()
                print(f"ACK {i}", flush=True)
            await asyncio.sleep(3600)
        else:
            handles = [client.get_or_create(Reminder, str(i)) for i in range(n)]
            for _ in range(500):
                counts = [await h.fired() for h in handles]
                if all(counts):
                    break
                await asyncio.sleep(0.02)
            for i, count in enumerate(counts):
                print(f"FIRED {i} {count}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
