"""Memory of idle WebSocket connections whose actors sleep (hibernation).

One server process (memory storage) gets N connections, one actor each — the "one room per
user" shape. The server's RSS is read before, with all N actors awake, and after they have
all gone to sleep with their sockets still open. Baseline, in the same run: a bare
``websockets`` echo server holding N idle connections (the cost of the sockets alone).

    python -m benchmarks.hibernation [--connections 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import time
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benchmarks.ws import RESULTS, _actorkit_server, _echo_server, _free_port, _rss_kib

APP = "benchmarks/_hibernation_app.py:registry"


def _health(url: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(url + "/health", timeout=30).json()
    return result


async def _open(urls: list[str], init: str | None) -> list[ClientConnection]:
    sem = asyncio.Semaphore(200)

    async def one(url: str) -> ClientConnection:
        async with sem:
            ws = await connect(
                url,
                subprotocols=[Subprotocol("actorkit.json")] if init else None,
                compression=None,
                open_timeout=120,
                ping_interval=None,
            )
            if init:
                await ws.send(init)
                await ws.recv()
            return ws

    return list(await asyncio.gather(*(one(u) for u in urls)))


async def actorkit_run(n: int) -> dict[str, Any]:
    port = _free_port()
    server = _actorkit_server(port, APP)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            sem = asyncio.Semaphore(64)

            async def create(i: int) -> str:
                async with sem:
                    r = await http.put("/actors", json={"name": "room", "key": [f"r{i}"]})
                    return str(r.json()["actor_id"])

            ids = await asyncio.gather(*(create(i) for i in range(n)))
        await _wait(lambda: _health(url)["actors_awake"] == 0)  # created, then asleep
        before = _rss_kib(server.pid)
        init = json.dumps({"t": "init", "params": {}, "subscriptions": ["tick"]})
        ws_base = url.replace("http", "ws")
        sockets = await _open([f"{ws_base}/actors/{i}/connect" for i in ids], init)
        awake_kib = _rss_kib(server.pid)
        await _wait(lambda: _health(url)["connections_hibernating"] == n)
        await asyncio.sleep(1.0)
        hibernated_kib = _rss_kib(server.pid)
        health = _health(url)
        for ws in sockets:
            await ws.close()
        return {
            "connections": n,
            "rss_before_kib": before,
            "per_conn_awake_kib": (awake_kib - before) / n,
            "per_conn_hibernated_kib": (hibernated_kib - before) / n,
            "actors_awake_at_end": health["actors_awake"],
        }
    finally:
        server.kill()
        server.wait()


async def echo_run(n: int) -> dict[str, Any]:
    port = _free_port()
    server = _echo_server(port)
    try:
        before = _rss_kib(server.pid)
        sockets = await _open([f"ws://127.0.0.1:{port}"] * n, None)
        await asyncio.sleep(1.0)
        after = _rss_kib(server.pid)
        for ws in sockets:
            await ws.close()
        return {"connections": n, "per_conn_kib": (after - before) / n}
    finally:
        server.kill()
        server.wait()


async def _wait(predicate: Any, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the server")
        await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2,000 connections")
    args = parser.parse_args()
    if args.quick:
        args.connections = 2_000
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ak = asyncio.run(actorkit_run(args.connections))
    base = asyncio.run(echo_run(args.connections))
    ratio = ak["per_conn_hibernated_kib"] / base["per_conn_kib"]
    print(f"{args.connections} idle WebSocket connections, one actor each ({platform.machine()})")
    print(f"  actorkit, actors awake:       {ak['per_conn_awake_kib']:6.1f} KiB per connection")
    hibernated = ak["per_conn_hibernated_kib"]
    print(f"  actorkit, actors asleep:      {hibernated:6.1f} KiB per connection")
    print(f"  bare websockets echo server:  {base['per_conn_kib']:6.1f} KiB per connection")
    print(f"  hibernated ÷ bare sockets:    {ratio:6.2f}×")
    print(f"  actors awake at the end:      {ak['actors_awake_at_end']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hibernation.json").write_text(
        json.dumps({"actorkit": ak, "echo": base, "ratio": ratio}, indent=2)
    )


if __name__ == "__main__":
    main()
