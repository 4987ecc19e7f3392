"""``scripts/demo`` serves what ``actorkit dev`` serves, on the port and host it is given."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server_fixtures import ROOT, free_port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the demo did not start:\n" + log.read_text()
        time.sleep(0.05)


def _start(args: list[str], tmp_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        # Use this interpreter's environment: nothing to install, so the test is fast.
        "ACTORKIT_VENV": str(Path(sys.executable).parent.parent),
    }
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(ROOT / "scripts" / "demo"), *args],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def test_demo_honours_port_and_serves_the_inspector(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    storage = f"sqlite:///{tmp_path / 'data'}"
    proc = _start(["--port", str(port), "--storage", storage], tmp_path, log_path)
    try:
        _wait_healthy(url, proc, log_path)
        page = httpx.get(url + "/inspector/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        api = httpx.get(url + "/inspector/api/actors")
        assert api.status_code == 200  # dev mode: no token needed
        actor = httpx.put(url + "/actors", json={"name": "counter", "key": ["demo"]}).json()
        reply = httpx.post(f"{url}/actors/{actor['actor_id']}/actions/increment", json={})
        assert reply.json() == {"output": 1}
        assert (tmp_path / "data").is_dir()  # --storage reached the server
    finally:
        _stop(proc)
    out = log_path.read_text()
    assert f"actorkit dev — {url}" in out  # the dev banner, with this port
    assert f"inspector {url}/inspector/" in out
    assert f"ACTORKIT_URL={url}" in out  # the hint names the port it serves on
    assert "6420" not in out


def test_chat_demo_serves_its_page_and_the_inspector(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "chat.log"
    storage = f"sqlite:///{tmp_path / 'data'}"
    proc = _start(["chat", "--port", str(port), "--storage", storage], tmp_path, log_path)
    try:
        _wait_healthy(url, proc, log_path)
        assert "<html" in httpx.get(url + "/").text.lower()  # the chat page
        assert httpx.get(url + "/inspector/api/actors").status_code == 200  # dev: no token
    finally:
        _stop(proc)
    assert f"inspector: {url}/inspector/" in log_path.read_text()
