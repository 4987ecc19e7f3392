"""The app the server tests serve: a counter, a guarded room, a raw HTTP handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from actorkit import Actor, ActorOptions, Registry, UserError, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def echo(self, value: Any) -> Any:
        return value

    @action
    def fail(self, code: str) -> None:
        self.state["count"] += 1000
        raise UserError("failed on purpose", code=code, metadata={"count": self.state["count"]})

    @action
    def crash(self) -> None:
        raise RuntimeError("secret detail")

    @action
    async def slow(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @action
    def destroy_me(self) -> None:
        self.destroy()

    async def on_request(self, request: Request) -> Any:
        if request.url.path == "/count":
            return {"count": self.state["count"], "method": request.method}
        if request.url.path == "/bump" and request.method == "POST":
            body = await request.body()
            self.state["count"] += len(body)
            return JSONResponse({"count": self.state["count"]}, status_code=201)
        if request.url.path == "/text":
            return f"hello {request.query_params.get('who', 'world')}"
        if request.url.path == "/sse":  # server-sent events: a streamed response
            start = self.state["count"]

            async def events() -> AsyncIterator[str]:
                for i in range(3):
                    await asyncio.sleep(0)
                    yield f"data: {start + i}\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        if request.url.path == "/bytes":
            return b"\x00\x01\x02"
        return Response("nope", status_code=404)


class Room(Actor):
    state = {"messages": []}

    def create_state(self, input: dict[str, Any] | None) -> dict[str, Any]:
        return {"messages": [], "topic": (input or {}).get("topic", "")}

    def on_before_connect(self, params: dict[str, Any]) -> None:
        if params.get("token") != "secret":
            raise UserError("bad token", code="forbidden")

    @action
    def send(self, text: str) -> int:
        self.state["messages"].append(text)
        return len(self.state["messages"])

    @action
    def topic(self) -> str:
        return str(self.state["topic"])


class Quick(Actor):
    options = ActorOptions(action_timeout=0.2)
    state = {"n": 0}

    @action
    async def hang(self) -> None:
        await asyncio.sleep(30)


registry = Registry(Counter, Room, Quick)
