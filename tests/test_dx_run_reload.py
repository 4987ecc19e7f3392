"""``actorkit dev`` with reload: while the app has a syntax error, requests fail fast with
503 ``app_not_loaded`` naming the error, and the fixed app is served again (issue 15 item 9).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from server_fixtures import free_port

GOOD = """
from actorkit import Actor, Registry, action


class Echo(Actor):
    @action
    def echo(self, text: str) -> str:
        return {prefix!r} + text


registry = Registry(Echo)
"""
BROKEN = GOOD.replace("def echo(self, text: str) -> str:", "def echo(self, text: str) -> str")


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    app = tmp_path / "echo_app.py"
    app.write_text(GOOD.format(prefix="v1:"))
    port = free_port()
    log = (tmp_path / "dev.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actorkit", "dev", "echo_app.py:registry", "--port", str(port)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ACTORKIT_STORAGE": "memory://"},
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def echo(url: str, text: str) -> httpx.Response:
    actor = httpx.put(f"{url}/actors", json={"name": "echo", "key": ["k"]}, timeout=5)
    if actor.status_code != 200:
        return actor
    actor_id = actor.json()["actor_id"]
    return httpx.post(f"{url}/actors/{actor_id}/actions/echo", json={"args": [text]}, timeout=5)


def test_dx_run_dev_serves_app_not_loaded_while_the_app_is_broken(
    dev_server: tuple[str, Path],
) -> None:
    url, app = dev_server
    wait_until(lambda: httpx.get(url + "/health", timeout=5).status_code == 200, "start")
    assert echo(url, "a").json()["output"] == "v1:a"

    app.write_text(BROKEN.format(prefix="v2:"))
    wait_until(lambda: httpx.get(url + "/health", timeout=5).status_code == 503, "the reload")
    reply = echo(url, "b")  # answered at once, not held until the app is fixed
    assert reply.status_code == 503
    body = reply.json()
    assert body["code"] == "app_not_loaded"
    assert "SyntaxError" in body["message"] and "echo_app.py" in body["message"]
    assert body["metadata"]["exception"] == "SyntaxError"

    app.write_text(GOOD.format(prefix="v3:"))
    wait_until(lambda: echo(url, "c").status_code == 200, "the fixed app")
    assert echo(url, "d").json()["output"] == "v3:d"
