"""The ``actorkit`` command, run as real subprocesses against real servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server_fixtures import ROOT, ServerProcess, free_port


def actorkit(*args: str, cwd: Path = ROOT, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=check,
    )


def test_version_and_help() -> None:
    assert actorkit("--version").stdout.startswith("actorkit ")
    out = actorkit("--help").stdout
    for command in ("dev", "serve", "call", "actors", "storage"):
        assert command in out


def test_call_prints_json_result(actor_server: ServerProcess) -> None:
    url = ["--url", actor_server.url]
    assert actorkit("call", *url, "counter", "cli", "increment", "5").stdout == "5\n"
    assert actorkit("call", *url, "counter", "cli", "increment").stdout == "6\n"
    out = actorkit("call", *url, "counter", '["cli"]', "echo", '{"a": [1, "x"]}').stdout
    assert json.loads(out) == {"a": [1, "x"]}
    assert json.loads(actorkit("call", *url, "counter", "cli", "echo", "plain").stdout) == "plain"
    out = actorkit("call", *url, "--params", '{"token": "secret"}', "room", "r", "send", "hi")
    assert out.stdout == "1\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["counter", "cli", "nope"], "action_not_found"),
        (["counter", "cli", "increment", '"five"'], "validation_error"),
        (["nobody", "cli", "increment"], "actor_not_found"),
        (["counter", "cli", "fail", "my_code"], "my_code"),
        (["room", "r", "send", "hi"], "forbidden"),
    ],
)
def test_call_failure_exits_nonzero_with_code(
    actor_server: ServerProcess, args: list[str], code: str
) -> None:
    result = actorkit("call", "--url", actor_server.url, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {code}: ")


def test_call_unreachable_server_is_connection_lost() -> None:
    result = actorkit("call", "--url", f"http://127.0.0.1:{free_port()}", "counter", "k", "x")
    assert result.returncode == 1
    assert result.stderr.startswith("error: connection_lost: ")


def test_actors_lists_a_table_and_json(actor_server: ServerProcess) -> None:
    url = ["--url", actor_server.url]
    actorkit("call", *url, "counter", "listed", "increment", check=True)
    table = actorkit("actors", *url, "counter").stdout
    assert '["listed"]' in table and "counter" in table
    rows = json.loads(actorkit("actors", *url, "--json").stdout)
    assert any(r["key"] == ["listed"] and r["name"] == "counter" for r in rows)
    missing = actorkit("actors", *url, "nobody")
    assert missing.returncode == 1 and "actor_not_found" in missing.stderr


def test_bad_app_reference_is_a_clear_error() -> None:
    result = actorkit("serve", "no_such_module:registry", "--port", str(free_port()))
    assert result.returncode == 2
    assert "cannot import module 'no_such_module'" in result.stderr
    result = actorkit("serve", "tests/apps/counter_app.py:Counter")
    assert result.returncode == 2 and "is not an actorkit Registry" in result.stderr


@pytest.mark.parametrize(
    ("blocked", "command", "extra"),
    [
        ("starlette", ["serve", "app:registry"], "server"),
        ("uvicorn", ["dev", "app:registry"], "server"),
        ("httpx", ["call", "counter", "k", "increment"], "client"),
        ("httpx", ["actors"], "client"),
        ("rich", ["dev", "app:registry"], "cli"),
    ],
)
def test_missing_extra_prints_the_pip_install(blocked: str, command: list[str], extra: str) -> None:
    # Simulate the package not being installed: importing it raises ImportError.
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from actorkit.cli import main\n"
        f"sys.exit(main({command!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 1
    assert f"pip install 'actorkit[{extra}]'" in result.stderr


APP_V1 = """
from actorkit import Actor, Registry, action

class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return self.state["count"]

registry = Registry(Counter)
"""

APP_V2 = APP_V1.replace(
    "registry = Registry",
    """    @action
    def double(self) -> int:
        self.state["count"] *= 2
        return self.state["count"]

registry = Registry""",
)


def _wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_dev_serves_prints_urls_and_reloads_on_change(tmp_path: Path) -> None:
    app = tmp_path / "myapp.py"
    app.write_text(APP_V1)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actorkit", "dev", "myapp:registry", "--port", str(port)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        start_new_session=True,
    )
    try:
        _wait_for(url + "/health", time.monotonic() + 60)
        h = httpx.put(url + "/actors", json={"name": "counter", "key": ["d"]}).json()
        action = f"{url}/actors/{h['actor_id']}/actions/"
        assert httpx.post(action + "increment", json={"args": [3]}).json() == {"output": 3}
        assert httpx.post(action + "double", json={}).json()["code"] == "action_not_found"

        app.write_text(APP_V2)  # the reloader restarts the server with the new code
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = httpx.post(action + "double", json={}, timeout=5)
                if reply.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "dev server did not reload"
            time.sleep(0.2)
        assert reply.json() == {"output": 6}  # state survived the reload (./.actorkit)
        assert (tmp_path / ".actorkit").is_dir()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()
    out = (tmp_path / "dev.log").read_text()
    assert f"actorkit dev — {url}" in out
    assert f"{url}/openapi.json" in out


def test_python_dash_m_and_entry_point_agree() -> None:
    script = shutil.which("actorkit", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout == actorkit("--version").stdout
