"""An app with authentication, for tests/test_auth*.py (real server processes).

- Registry level: a client needs ``Authorization: Bearer good`` or params ``{"token":
  "good"}``; ``X-Crash: 1`` makes the hook itself fail.
- Class level (``Vault``): only ``X-Role: admin`` may destroy.

Every ``authenticate`` call, ``create_vars`` and ``on_wake`` appends a line to the file named
by ``ACTORKIT_TEST_EVENTS`` (one ``O_APPEND`` write per line, so several processes' lines do
not interleave): ``auth <json>``, ``vars <key> <pid>``, ``wake <key> <pid>``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from actorkit import Actor, ActorOptions, AuthRequest, Registry, UserError, action


def record(line: str) -> None:
    path = os.environ.get("ACTORKIT_TEST_EVENTS")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def check_credentials(request: AuthRequest) -> None:
    seen = {
        "intent": request.intent,
        "name": request.actor_name,
        "key": None if request.key is None else list(request.key),
        "actor_id": request.actor_id,
        "action": request.action,
        "params": request.params,
        "authorization": request.headers.get("authorization"),
        "client": None if request.client is None else request.client[0],
        "pid": os.getpid(),
    }
    record("auth " + json.dumps(seen))
    if request.headers.get("x-crash") == "1":
        raise RuntimeError("the auth service is down")
    token = request.params.get("token") if isinstance(request.params, dict) else None
    if request.headers.get("authorization") != "Bearer good" and token != "good":
        raise UserError("who are you?")


class Vault(Actor):
    state = {"opened": 0}
    options = ActorOptions(sleep_timeout=300.0)

    @staticmethod
    async def authenticate(request: AuthRequest) -> None:
        if request.intent == "destroy" and request.headers.get("x-role") != "admin":
            raise UserError("only admins destroy vaults", code="forbidden")

    def create_vars(self) -> dict[str, Any]:
        record(f"vars {self.key[0]} {os.getpid()}")
        return {}

    def on_wake(self) -> None:
        record(f"wake {self.key[0]} {os.getpid()}")

    @action
    def unlock(self) -> int:
        self.state["opened"] += 1
        return int(self.state["opened"])

    @action
    def pid(self) -> int:
        return os.getpid()

    @action
    async def peer_pid(self, actor_id: str) -> int:
        """Call another vault (on whichever node owns it) from actor code."""
        return int(await self.client.get_for_id(Vault, actor_id).pid())

    async def on_request(self, request: Request) -> str:
        return f"raw {request.url.path}"

    async def on_websocket(self, websocket: WebSocket) -> None:
        async for text in websocket.iter_text():
            await websocket.send_text(f"echo:{text}")


registry = Registry(Vault, authenticate=check_credentials)
