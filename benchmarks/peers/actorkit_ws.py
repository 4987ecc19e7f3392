"""actorkit WebSocket connections for the benchmark, through actorkit's own client.

Imported by ``targets.ActorkitTarget`` when the driver runs where ``actorkit`` is installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import actorkit


class _Conn:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def increment(self, amount: int) -> Any:
        return await self.conn.action("increment", amount)

    async def close(self) -> None:
        await self.conn.aclose()


def connector(url: str) -> Callable[[str, Callable[[Any], None] | None], Awaitable[_Conn]]:
    client = actorkit.AsyncClient(url)

    async def connect(key: str, on_event: Callable[[Any], None] | None) -> _Conn:
        conn = client.get_or_create("counter", [key]).connect()
        if on_event is not None:
            conn.on("newCount", on_event)
        await conn.open()
        return _Conn(conn)

    return connect
