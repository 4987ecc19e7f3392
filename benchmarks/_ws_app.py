"""The actor the WebSocket benchmark calls, and a bare `websockets` echo server baseline."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


class Hub(Actor):
    state = {"n": 0}
    options = ActorOptions(no_sleep=True)

    @action
    def echo(self, value: Any) -> Any:
        return value

    @action
    def tick(self) -> float:
        now = time.time()
        self.broadcast("tick", now)
        return now

    @action
    def count(self) -> int:
        return len(self.conns)


registry = Registry(Hub)


async def _echo_server(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, compression=None):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(_echo_server(int(sys.argv[1])))
