"""registry.asgi() mounted under a prefix in a Starlette app, served by a real uvicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from actorkit import Client
from server_fixtures import ROOT, free_port


def _serve(port: int, storage: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", "examples/mounted"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "ACTORKIT_STORAGE": storage}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mounted app did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises SIGTERM after a clean shutdown.
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)


def test_mounted_under_prefix(tmp_path: Path) -> None:
    port = free_port()
    storage = f"sqlite:///{tmp_path / 'data'}"
    proc = _serve(port, storage)
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(base + "/").text == "my app"
        with Client(base + "/api") as client:
            counter = client.get_or_create("counter", ["m"])
            assert counter.increment(3) == 3
            assert counter.fetch("/hello/x").text == "count=3 path=/hello/x"
        reply = httpx.get(base + "/api/nothing")
        assert reply.status_code == 404 and reply.json()["code"] == "not_found"
        assert "/actors" in httpx.get(base + "/api/openapi.json").json()["paths"]
    finally:
        _stop(proc)
    proc = _serve(port, storage)  # state survived the host app's restart
    try:
        with Client(base + "/api") as client:
            assert client.get("counter", "m").increment(1) == 4
    finally:
        _stop(proc)


def test_user_middleware_sees_action_calls(tmp_path: Path) -> None:
    # The action fast path must not bypass middleware a user adds to the app.
    app_file = tmp_path / "mw_app.py"
    app_file.write_text(
        "from starlette.middleware.base import BaseHTTPMiddleware\n"
        "from actorkit import Actor, Registry, action\n"
        "class Counter(Actor):\n"
        "    state = {'count': 0}\n"
        "    @action\n"
        "    def increment(self) -> int:\n"
        "        self.state['count'] += 1\n"
        "        return self.state['count']\n"
        "async def stamp(request, call_next):\n"
        "    response = await call_next(request)\n"
        "    response.headers['x-seen-by'] = 'middleware'\n"
        "    return response\n"
        "app = Registry(Counter).asgi('memory://')\n"
        "app.add_middleware(BaseHTTPMiddleware, dispatch=stamp)\n"
    )
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "mw_app:app", "--app-dir", str(tmp_path)]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--log-level", "warning"], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        actor = httpx.put(base + "/actors", json={"name": "counter"}).json()
        reply = httpx.post(f"{base}/actors/{actor['actor_id']}/actions/increment", json={})
        assert reply.json() == {"output": 1}
        assert reply.headers["x-seen-by"] == "middleware"
    finally:
        _stop(proc)
