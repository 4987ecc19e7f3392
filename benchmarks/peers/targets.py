"""Python clients of each system under test (run inside the peers' cache venv).

Each class is a ``workloads.Target``: actorkit over its HTTP routes (DESIGN.md §6),
Restate's ingress, Ray's own client, and durable-actors' generated client.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import aiohttp
from benchmarks.peers.workloads import Call

# aiohttp, not httpx: at 32 concurrent callers httpx itself tops out near 200 requests/s on
# this machine, which would hide every server's own limit.
TIMEOUT = aiohttp.ClientTimeout(total=60)


def _session(url: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(url, timeout=TIMEOUT,
                                 connector=aiohttp.TCPConnector(limit=100))


async def _post(http: aiohttp.ClientSession, path: str, body: Any) -> Any:
    async with http.post(path, json=body) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {(await r.text())[:200]}")
        return await r.json()


class ActorkitTarget:
    """actorkit's HTTP API (``PUT /actors``, ``POST /actors/{id}/actions/increment``) via
    aiohttp, and its WebSocket connections via actorkit's own client."""

    name = "actorkit"
    sleeps = True
    connect: Callable[[str, Callable[[Any], None] | None], Any] | None = None

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.skip: dict[str, tuple[str, str]] = {}
        self.http: aiohttp.ClientSession

    async def open(self) -> None:
        self.http = _session(self.url)
        try:
            from benchmarks.peers import actorkit_ws

            self.connect = actorkit_ws.connector(self.url)
        except ImportError:  # pragma: no cover - the realtime protocol is not there yet
            self.skip["w1_ws"] = ("not-measured", "actorkit WebSocket client not available")
            self.skip["w4_broadcast"] = ("not-measured", "actorkit WebSocket client not available")

    async def close(self) -> None:
        await self.http.close()

    async def resolve(self, key: str, name: str = "counter") -> str:
        body = {"name": name, "key": [key], "input": None}
        async with self.http.put("/actors", json=body) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {(await r.text())[:200]}")
            return str((await r.json())["actor_id"])

    async def _call(self, actor_id: str, amount: int) -> Any:
        out = await _post(self.http, f"/actors/{actor_id}/actions/increment", {"args": [amount]})
        return out["output"]

    async def handle(self, key: str, *, sleepy: bool = False) -> Call:
        actor_id = await self.resolve(key, "sleepy_counter" if sleepy else "counter")

        async def call(amount: int) -> Any:
            return await self._call(actor_id, amount)

        return call

    async def create_and_call(self, key: str) -> Any:
        return await self._call(await self.resolve(key), 1)


class RestateTarget:
    """A Restate virtual object called through the ingress: ``POST /counter/{key}/increment``."""

    name = "restate"
    sleeps = False
    connect = None

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http: aiohttp.ClientSession

    async def open(self) -> None:
        self.http = _session(self.url)

    async def close(self) -> None:
        await self.http.close()

    async def _call(self, key: str, amount: int) -> Any:
        return await _post(self.http, f"/counter/{key}/increment", amount)

    async def handle(self, key: str, *, sleepy: bool = False) -> Call:
        async def call(amount: int) -> Any:
            return await self._call(key, amount)

        return call

    async def create_and_call(self, key: str) -> Any:
        return await self._call(key, 1)


class RayTarget:
    """Ray named actors (``get_if_exists=True``) called through Ray's own client."""

    name = "ray"
    sleeps = False
    connect = None

    def __init__(self) -> None:
        self.fresh: list[Any] = []

    async def open(self) -> None:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False, namespace="actorkit-bench")

        @ray.remote(num_cpus=0)
        class Counter:
            def __init__(self) -> None:
                self.count = 0

            def increment(self, amount: int) -> int:
                self.count += amount
                return self.count

        self.cls = Counter

    async def close(self) -> None:
        import ray

        ray.shutdown()

    def _get(self, key: str) -> Any:
        return self.cls.options(name=key, get_if_exists=True, lifetime="detached").remote()

    async def handle(self, key: str, *, sleepy: bool = False) -> Call:
        actor = self._get(key)

        async def call(amount: int) -> Any:
            return await actor.increment.remote(amount)

        return call

    async def create_and_call(self, key: str) -> Any:
        actor = self._get(key)
        self.fresh.append(actor)
        return await actor.increment.remote(1)


class DurableActorsTarget:
    """durable-actors through the client ``durable-actors generate`` wrote for the app."""

    name = "durable-actors"
    sleeps = False
    connect = None

    def __init__(self, url: str, project: str) -> None:
        import os

        os.environ["DURABLE_ACTORS_CONTROL_PLANE_URL"] = url
        sys.path.insert(0, project)

    async def open(self) -> None:
        from generated.async_actors import Counter  # type: ignore[import-not-found]

        self.cls = Counter

    async def close(self) -> None:
        return None

    async def handle(self, key: str, *, sleepy: bool = False) -> Call:
        stub = self.cls.get(key)

        async def call(amount: int) -> Any:
            return await stub.increment(amount)

        return call

    async def create_and_call(self, key: str) -> Any:
        return await self.cls.get(key).increment(1)

