"""``registry.client()``: routes of the app that mounts ``registry.asgi()`` call its actors
in-process, served by a real uvicorn in a subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from actorkit import Actor, Registry, action
from server_fixtures import ROOT, free_port

APP = """
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from actorkit import Actor, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])


registry = Registry(Counter)
actors = registry.asgi(storage=STORAGE)
client = registry.client()  # made once at import; the node starts on its first call


async def visit(request: Request) -> JSONResponse:
    counter = client.get_or_create(Counter, request.path_params["key"])
    count = await counter.increment()
    async with registry.client() as other:  # a client per request works too
        seen = await other.get("counter", request.path_params["key"]).increment(0)
    return JSONResponse({"count": count, "seen": seen, "awake": len(actors.state.node.instances)})


app = Starlette(routes=[Route("/visit/{key}", visit, methods=["POST"]), Mount("/api", app=actors)])
"""


def test_route_calls_its_own_actors_in_process(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'data'}"
    (tmp_path / "myapp.py").write_text(f"STORAGE = {storage!r}\n" + APP)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "myapp:app", "--app-dir", str(tmp_path)]
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the port, without touching the mounted app (node not started)
            assert proc.poll() is None, log_path.read_text()
            try:
                httpx.get(base + "/nothing", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
        # The first request of all goes to our route: the in-process client starts the node.
        reply = httpx.post(base + "/visit/home", timeout=30)
        assert reply.status_code == 200, log_path.read_text()
        assert reply.json() == {"count": 1, "seen": 1, "awake": 1}
        assert httpx.post(base + "/visit/home").json()["count"] == 2
        # Same node, same actor over HTTP through the mounted app.
        found = httpx.get(base + "/api/actors", params={"name": "counter", "key": "home"}).json()
        url = f"{base}/api/actors/{found['actor_id']}/actions/increment"
        assert httpx.post(url, json={"args": [10]}).json() == {"output": 12}
        assert httpx.post(base + "/visit/home").json()["count"] == 13
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Traceback" not in log_path.read_text()


class Tally(Actor):
    state = {"n": 0}

    @action
    def add(self) -> int:
        self.state["n"] += 1
        return int(self.state["n"])


def test_client_before_asgi_is_a_clear_error() -> None:
    registry = Registry(Tally)
    with pytest.raises(RuntimeError, match=r"call registry\.asgi\(\) first"):
        registry.client()
    registry.asgi(storage="memory://")
    assert registry.client() is not registry.client()  # cheap, one per call
