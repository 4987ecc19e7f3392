"""The app the cluster tests run on several ``actorkit serve`` processes sharing PostgreSQL.

Every ``on_create`` and ``on_wake`` appends a line to the file named by
``ACTORKIT_TEST_EVENTS`` (one ``O_APPEND`` write per line, so lines of several processes do
not interleave): the tests count activations across the whole cluster from it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


def record(*fields: object) -> None:
    path = os.environ.get("ACTORKIT_TEST_EVENTS")
    if path:
        line = " ".join(str(f) for f in (*fields, os.getpid())) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class Counter(Actor):
    state = {"count": 0, "fired": 0}
    options = ActorOptions(sleep_timeout=300.0, action_timeout=120.0)

    def on_create(self, input: Any) -> None:
        record("create", self.key[0] if self.key else "")

    def on_wake(self) -> None:
        record("wake", self.key[0] if self.key else "")

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        self.broadcast("count", self.state["count"])
        return int(self.state["count"])

    @action
    async def slow_increment(self, seconds: float) -> int:
        """Increments, then holds its turn open for ``seconds`` before the commit."""
        self.state["count"] += 1
        record("slow", self.key[0] if self.key else "")
        await asyncio.sleep(seconds)
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def pid(self) -> int:
        return os.getpid()

    @action
    def remind(self, seconds: float) -> str:
        return self.schedule.after(seconds, "fire")

    @action
    def fire(self) -> None:
        self.state["fired"] += 1
        record("fired", self.key[0] if self.key else "")

    @action
    def fired(self) -> int:
        return int(self.state["fired"])

    @action
    async def ping_pong(self, other: str, depth: int) -> list[int]:
        """A → B → A … across nodes: each hop calls the other actor back."""
        if depth == 0:
            return [os.getpid()]
        peer = self.client.get_or_create("counter", other)
        rest: list[int] = await peer.ping_pong(self.key[0], depth - 1)
        return [os.getpid(), *rest]

    async def on_request(self, request: Any) -> Any:
        return {"pid": os.getpid(), "path": request.url.path, "count": self.state["count"]}

    async def on_websocket(self, websocket: Any) -> None:
        async for text in websocket.iter_text():
            await websocket.send_text(f"{os.getpid()}:{text}")


registry = Registry(Counter)
