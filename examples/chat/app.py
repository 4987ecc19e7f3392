"""A chat room: one actor per room, live over WebSockets, with a plain HTML page.

Run it:  ./scripts/demo   (or: python examples/chat/app.py [--port 6420] [--storage URL])
then open http://127.0.0.1:6420/?user=ann and http://127.0.0.1:6420/?user=bob.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from actorkit import Actor, Registry, UserError, action

PAGE = Path(__file__).with_name("index.html")
MAX_HISTORY = 100


class ChatRoom(Actor):
    """Keeps the last messages; everyone connected hears new ones as they are sent."""

    state = {"messages": []}

    def on_before_connect(self, params: dict[str, Any]) -> None:
        user = params.get("user")
        if not isinstance(user, str) or not 0 < len(user) <= 32:
            raise UserError("pick a user name of 1 to 32 characters", code="bad_user")

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, str]:
        return {"user": params["user"]}

    def on_connect(self, conn: Any) -> None:
        self.broadcast("presence", self._who())

    def on_disconnect(self, conn: Any) -> None:
        self.broadcast("presence", self._who(leaving=conn.id))

    def _who(self, leaving: str | None = None) -> list[str]:
        return sorted({c.state["user"] for c in self.conns.values() if c.id != leaving})

    @action
    def send(self, text: str) -> dict[str, Any]:
        if self.conn is None:  # a stateless call has no user: the sender is a connection's
            raise UserError("send needs a connection: connect as a user", code="not_connected")
        text = text.strip()
        if not 0 < len(text) <= 500:
            raise UserError("messages are 1 to 500 characters", code="bad_message")
        msg = {"user": self.conn.state["user"], "text": text, "at": time.time()}
        self.state["messages"] = [*self.state["messages"], msg][-MAX_HISTORY:]
        self.broadcast("message", msg)
        return msg

    @action
    def history(self) -> list[dict[str, Any]]:
        return list(self.state["messages"])


registry = Registry(ChatRoom)


def create_app(storage: str | None = None, *, dev: bool = False) -> Any:
    """The actor server plus the chat page at ``/`` (``dev``: the inspector at
    ``/inspector/`` and error details, as under ``actorkit dev``)."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route

    actors = registry.asgi(storage, dev=dev)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with actors.router.lifespan_context(actors):
            yield

    async def page(request: Any) -> FileResponse:
        return FileResponse(PAGE, media_type="text/html")

    return Starlette(routes=[Route("/", page), Mount("/", actors)], lifespan=lifespan)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6420)
    parser.add_argument("--storage", default="sqlite:///.actorkit")
    parser.add_argument("--dev", action="store_true", help="inspector on, error details")
    args = parser.parse_args()
    print(f"chat: open http://{args.host}:{args.port}/?user=ann", flush=True)
    if args.dev:
        print(f"inspector: http://{args.host}:{args.port}/inspector/", flush=True)
    app = create_app(args.storage, dev=args.dev)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
