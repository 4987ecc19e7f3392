"""Mount actorkit inside an existing Starlette (or FastAPI) app under ``/api``.

    uvicorn app:app --app-dir examples/mounted --port 8000
    curl -X PUT localhost:8000/api/actors -H 'content-type: application/json' \\
         -d '{"name": "counter", "key": ["a"]}'

With FastAPI it is the same two lines: ``app.mount("/api", actors)`` and the lifespan below.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from actorkit import Actor, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    def on_request(self, request: Request) -> str:
        return f"count={self.state['count']} path={request.url.path}"


registry = Registry(Counter)
actors = registry.asgi(storage=os.environ.get("ACTORKIT_STORAGE", "sqlite:///.actorkit"))


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("my app")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # Mounted apps get no lifespan of their own: run actorkit's inside ours, so actors
    # sleep cleanly (on_sleep hooks, storage closed) when the app stops.
    async with actors.router.lifespan_context(actors):
        yield


app = Starlette(routes=[Route("/", home), Mount("/api", app=actors)], lifespan=lifespan)
