"""Graceful shutdown of a real server process on SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from server_fixtures import ServerFactory

APP = "tests/apps/shutdown_app.py:registry"


def call(url: str, actor_id: str, action: str, *args: Any) -> Any:
    r = httpx.post(f"{url}/actors/{actor_id}/actions/{action}", json={"args": list(args)},
                   timeout=30)
    r.raise_for_status()
    return r.json()["output"]


def create(url: str, name: str, key: str) -> str:
    r = httpx.put(f"{url}/actors", json={"name": name, "key": [key]}, timeout=30)
    r.raise_for_status()
    return str(r.json()["actor_id"])


def test_sigterm_finishes_in_flight_calls_and_persists_everything(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(APP)
    worker = create(server.url, "worker", "w")
    lazy = create(server.url, "lazy", "l")
    assert [call(server.url, lazy, "bump") for _ in range(3)] == [1, 2, 3]

    release = tmp_path / "release"
    result: dict[str, Any] = {}
    in_flight = threading.Thread(
        target=lambda: result.update(out=call(server.url, worker, "work_until", str(release)))
    )
    in_flight.start()
    started = Path(str(release) + ".started")
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # wait for the call to reach the actor
    assert started.exists()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)

    # New connections are refused while the in-flight call is still running ...
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(server.url + "/health", timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("server kept accepting connections after SIGTERM")
    assert in_flight.is_alive()

    # ... which completes normally once released; then the process exits cleanly.
    release.touch()
    in_flight.join(30)
    assert result["out"] == 1
    # uvicorn re-raises the signal once shut down, so the exit status says SIGTERM.
    assert server.proc.wait(30) in (0, -signal.SIGTERM)

    server.start()
    # The finished call, on_sleep's change and relaxed-mode state all survived.
    assert call(server.url, worker, "read") == {"done": 1, "slept": 1}
    assert call(server.url, lazy, "bump") == 4
