"""The app the graceful-shutdown tests serve."""

from __future__ import annotations

import asyncio
from pathlib import Path

from actorkit import Actor, ActorOptions, Registry, action


class Worker(Actor):
    state = {"done": 0, "slept": 0}

    async def on_sleep(self) -> None:
        self.state["slept"] += 1

    @action
    async def work_until(self, release_file: str) -> int:
        """Signals that it started, then holds the call open until ``release_file`` exists."""
        Path(release_file + ".started").touch()  # noqa: ASYNC240 - a test signal
        while not Path(release_file).exists():  # noqa: ASYNC110, ASYNC240 - another process
            await asyncio.sleep(0.01)
        self.state["done"] += 1
        return int(self.state["done"])

    @action
    def read(self) -> dict[str, int]:
        return dict(self.state)


class Lazy(Actor):
    """Relaxed durability: state saved at most once a minute — and at shutdown."""

    state = {"n": 0}
    options = ActorOptions(state_save_interval=60.0)

    @action
    def bump(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])


registry = Registry(Worker, Lazy)
