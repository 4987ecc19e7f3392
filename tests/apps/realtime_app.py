"""The app the WebSocket tests serve: a guarded room with per-connection state, raw echo."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from actorkit import Actor, ActorOptions, Registry, UserError, action

GRACE = float(os.environ.get("ACTORKIT_TEST_GRACE", "0.5"))


class Room(Actor):
    state = {"log": [], "connects": [], "disconnects": []}
    options = ActorOptions(reconnect_grace=GRACE, max_connections=40)

    def on_before_connect(self, params: dict[str, Any]) -> None:
        if params.get("token") != "ok":
            raise UserError("bad token", code="forbidden", metadata={"why": "token"})

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params["user"], "sent": 0}

    def on_connect(self, conn: Any) -> None:
        self.state["connects"].append(conn.state["user"])

    def on_disconnect(self, conn: Any) -> None:
        self.state["disconnects"].append(conn.state["user"])

    @action
    async def say(self, text: str) -> int:
        self.conn.state["sent"] += 1
        self.state["log"].append([self.conn.state["user"], text])
        self.broadcast("message", {"user": self.conn.state["user"], "text": text})
        return int(self.conn.state["sent"])

    @action
    async def whoami(self, delay: float = 0.0) -> dict[str, Any]:
        if delay:
            await asyncio.sleep(delay)
        if self.conn is None:
            return {"user": None}
        return {
            "user": self.conn.state["user"],
            "id": self.conn.id,
            "sent": self.conn.state["sent"],
        }

    @action
    def shout(self, text: str) -> None:
        self.broadcast("message", {"user": "server", "text": text})

    @action
    def flood(self, count: int, size: int) -> None:
        for i in range(count):
            self.broadcast("blob", i, "x" * size)

    @action
    def stats(self) -> dict[str, Any]:
        return {
            "connects": self.state["connects"],
            "disconnects": self.state["disconnects"],
            "conns": sorted([c.state["user"], c.connected] for c in self.conns.values()),
        }

    @action
    def kick(self, user: str) -> None:
        for conn in list(self.conns.values()):
            if conn.state["user"] == user:
                conn.disconnect("kicked")

    async def on_websocket(self, websocket: Any) -> None:
        async for text in websocket.iter_text():
            await websocket.send_text(f"echo:{text}")


registry = Registry(Room)
