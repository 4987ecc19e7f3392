"""Real server processes: blocking actions under ``actorkit dev``, internal errors in dev and
serve, bad storage URLs, invalid actor names (issue 15 items 1 and 9)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from actorkit import Actor, Registry
from server_fixtures import ROOT, ServerFactory, free_port

SHOP_APP = """
import os
import time

from actorkit import Actor, Registry, action


class Shop(Actor):
    state = {"paid": 0}

    @action(blocking=True)
    def checkout(self, fifo: str) -> str:
        with open(fifo) as f:  # blocks until the test writes: a stand-in for slow I/O
            line = f.read().strip()
        self.state["paid"] += 1
        return line

    @action
    def checkout_on_loop(self, seconds: float) -> None:
        time.sleep(seconds)  # the mistake: blocks every actor

    @action
    def explode(self) -> None:
        raise ZeroDivisionError("the secret is 42")


registry = Registry(Shop)
"""


@pytest.fixture
def shop_app(tmp_path: Path) -> str:
    path = tmp_path / "shop_app.py"
    path.write_text(SHOP_APP)
    return f"{path}:registry"


def _call(url: str, action: str, args: list[object], key: str = "a") -> httpx.Response:
    actor = httpx.put(f"{url}/actors", json={"name": "shop", "key": [key]}, timeout=30).json()
    return httpx.post(
        f"{url}/actors/{actor['actor_id']}/actions/{action}", json={"args": args}, timeout=60
    )


def _wait_for_line(server: object, text: str) -> str:
    """The server's log once it contains ``text`` (whitespace-normalised: rich wraps)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = " ".join(server.output().split())  # type: ignore[attr-defined]
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never logged:\n{server.output()}")  # type: ignore[attr-defined]


def test_dx_run_blocking_action_does_not_stall_health_and_dev_names_unmarked_one(
    server_factory: ServerFactory, shop_app: str, tmp_path: Path
) -> None:
    server = server_factory(shop_app, command="dev", args=["--no-reload"])
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    result: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: result.append(_call(server.url, "checkout", [str(fifo)]))
    )
    caller.start()
    with open(fifo, "w") as gate:  # opens once the action, in its thread, opened it to read
        # The action is blocked now; the loop still serves other requests.
        assert httpx.get(server.url + "/health", timeout=30).status_code == 200
        assert _call(server.url, "checkout_on_loop", [0], key="other").status_code == 200
        gate.write("paid\n")
    caller.join(timeout=60)
    assert result and result[0].status_code == 200 and result[0].json()["output"] == "paid"
    # An unmarked action that blocks the loop is named in the dev log, with the fix.
    assert _call(server.url, "checkout_on_loop", [0.3]).status_code == 200
    log = _wait_for_line(server, "`Shop.checkout_on_loop` blocked the event loop for 0.")
    assert "make it async or mark it @action(blocking=True)" in log
    assert "`Shop.checkout` blocked" not in log


def test_dx_run_internal_error_details_in_dev_only(
    server_factory: ServerFactory, shop_app: str
) -> None:
    dev = server_factory(shop_app, command="dev", args=["--no-reload"])
    reply = _call(dev.url, "explode", [])
    assert reply.status_code == 500
    body = reply.json()
    assert body["code"] == "internal_error"
    assert "ZeroDivisionError: the secret is 42" in body["message"]
    meta = body["metadata"]
    assert meta["exception"] == "ZeroDivisionError" and meta["detail"] == "the secret is 42"
    assert meta["actor"] == "shop" and meta["key"] == ["a"] and meta["where"] == "action 'explode'"

    serve = server_factory(shop_app)
    reply = _call(serve.url, "explode", [], key="k1")
    assert reply.status_code == 500
    body = reply.json()
    assert body == {
        "group": "internal",
        "code": "internal_error",
        "message": "internal error",
        "metadata": None,
    }
    # The server log names the actor (type, key, id) and the action.
    actor_id = httpx.put(f"{serve.url}/actors", json={"name": "shop", "key": ["k1"]}).json()[
        "actor_id"
    ]
    _wait_for_line(serve, f"Shop ['k1'] ({actor_id}): action 'explode' raised ZeroDivisionError")


RUN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from apps.counter_app import registry
registry.run(port={port}, storage=sys.argv[1])
"""


@pytest.mark.parametrize("how", ["serve", "dev", "run"])
@pytest.mark.parametrize(
    ("storage", "reason"),
    [
        ("foo://nowhere", "unknown storage URL 'foo://nowhere'"),
        ("sqlite:////proc/actorkit-cannot-be-here", "No such file or directory"),
    ],
)
def test_dx_run_bad_storage_is_one_line_and_exit_1(
    how: str, storage: str, reason: str, tmp_path: Path
) -> None:
    port = free_port()
    if how == "run":
        script = tmp_path / "run.py"
        script.write_text(RUN_SCRIPT.format(tests=str(ROOT / "tests"), port=port))
        cmd = [sys.executable, str(script), storage]
    else:
        cmd = [sys.executable, "-m", "actorkit", how, "tests/apps/counter_app.py:registry"]
        cmd += ["--port", str(port), "--storage", storage]
        if how == "dev":
            cmd.append("--no-reload")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"actorkit: cannot open storage {storage}: ")
    assert reason in lines[0]


def test_dx_run_invalid_actor_name_is_refused_at_registration() -> None:
    class Shop(Actor):
        name = "My Shop"

    with pytest.raises(ValueError, match=r"Shop\.name: invalid actor name 'My Shop'"):
        Registry(Shop)

    class Store(Actor):
        name = "my-store"

    assert Registry(Store).names == ["my-store"]


HANG_APP = """
import asyncio

from actorkit import Actor, Registry, action


class Slow(Actor):
    state = {"n": 0}

    @action
    async def hang(self) -> None:
        self.state["n"] += 1
        self.log.warning("hang started")
        await asyncio.Event().wait()  # longer than any shutdown grace

    @action
    def count(self) -> int:
        return int(self.state["n"])


registry = Registry(Slow)
"""


def test_dx_run_call_past_the_shutdown_grace_gets_a_clean_error(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    app = tmp_path / "hang_app.py"
    app.write_text(HANG_APP)
    server = server_factory(f"{app}:registry", env={"ACTORKIT_SHUTDOWN_GRACE": "0.5"})
    actor_id = httpx.put(f"{server.url}/actors", json={"name": "slow", "key": ["s"]}).json()[
        "actor_id"
    ]
    replies: list[httpx.Response] = []
    url = f"{server.url}/actors/{actor_id}/actions"
    caller = threading.Thread(
        target=lambda: replies.append(httpx.post(f"{url}/hang", json={"args": []}, timeout=60))
    )
    caller.start()
    _wait_for_line(server, "hang started")
    server.stop()  # SIGTERM: the grace runs out while the call still runs
    caller.join(timeout=60)
    assert replies, "no reply"
    reply = replies[0]
    assert reply.status_code == 503
    body = reply.json()  # a JSON error body, not the server's bare text 500
    assert body["code"] == "actor_stopping"
    assert body["metadata"] == {"retryable": True, "outcome": "unknown"}
    # The interrupted call was rolled back; a call that finishes in time is answered normally.
    server.start()
    assert httpx.post(f"{url}/count", json={"args": []}).json() == {"output": 0}
