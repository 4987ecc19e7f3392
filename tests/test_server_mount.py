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
