"""``actorkit call`` creates nothing when the call cannot run, is one request, and reads
``ACTORKIT_URL``; ``actorkit state`` and ``actorkit destroy``; the by-key action route."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from actorkit import AsyncClient
from actorkit.client.http import HttpTransport
from server_fixtures import ROOT, ServerFactory, ServerProcess

TOKEN = "s3cret-inspector-token"


def actorkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in ("ACTORKIT_URL", "ACTORKIT_INSPECTOR_TOKEN")
    }
    return subprocess.run(
        [sys.executable, "-m", "actorkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**base, **(env or {})},
    )


def _exists(server: ServerProcess, name: str, key: list[str]) -> bool:
    reply = httpx.get(server.url + "/actors", params={"name": name, "key": json.dumps(key)})
    assert reply.status_code in (200, 404), reply.text
    return reply.status_code == 200


@pytest.mark.parametrize(
    ("args", "code"),
    [(["nope"], "action_not_found"), (["increment", '"five"'], "validation_error")],
)
def test_failed_call_creates_nothing(
    actor_server: ServerProcess, args: list[str], code: str
) -> None:
    key = f"never-{code}"
    result = actorkit("call", "--url", actor_server.url, "counter", key, *args)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {code}: ")
    assert not _exists(actor_server, "counter", [key])
    # The same key with a call that can run: created, and the call ran.
    ok = actorkit("call", "--url", actor_server.url, "counter", key, "increment", "2")
    assert ok.returncode == 0 and ok.stdout == "2\n"
    assert _exists(actor_server, "counter", [key])


def test_call_no_create_needs_an_existing_actor(actor_server: ServerProcess) -> None:
    url = ["--url", actor_server.url]
    missing = actorkit("call", *url, "--no-create", "counter", "nc", "increment")
    assert missing.returncode == 1 and missing.stderr.startswith("error: actor_not_found: ")
    assert not _exists(actor_server, "counter", ["nc"])
    assert actorkit("call", *url, "counter", "nc", "increment").stdout == "1\n"
    assert actorkit("call", *url, "--no-create", "counter", "nc", "increment").stdout == "2\n"


def test_url_from_the_environment(actor_server: ServerProcess) -> None:
    result = actorkit(
        "call", "counter", "env", "increment", "3", env={"ACTORKIT_URL": actor_server.url}
    )
    assert (result.returncode, result.stdout) == (0, "3\n"), result.stderr
    listed = actorkit("actors", "--json", "counter", env={"ACTORKIT_URL": actor_server.url})
    assert any(a["key"] == ["env"] for a in json.loads(listed.stdout))
    assert "[ACTORKIT_URL]" in actorkit("call", "--help").stdout


def test_destroy_command(actor_server: ServerProcess) -> None:
    url = ["--url", actor_server.url]
    assert actorkit("call", *url, "counter", '["d", "1"]', "increment", "4").stdout == "4\n"
    result = actorkit("destroy", *url, "counter", '["d", "1"]')
    assert result.returncode == 0 and result.stdout.startswith('destroyed counter ["d", "1"] (')
    assert not _exists(actor_server, "counter", ["d", "1"])
    again = actorkit("destroy", *url, "counter", '["d", "1"]')
    assert again.returncode == 1 and again.stderr.startswith("error: actor_not_found: ")
    # A new actor under the key starts fresh.
    assert actorkit("call", *url, "counter", '["d", "1"]', "increment").stdout == "1\n"


def test_state_command(server_factory: ServerFactory) -> None:
    server = server_factory(env={"ACTORKIT_INSPECTOR_TOKEN": TOKEN})
    url = ["--url", server.url]
    assert actorkit("call", *url, "counter", "s", "increment", "5").stdout == "5\n"
    result = actorkit("state", *url, "--token", TOKEN, "counter", "s")
    assert (result.returncode, json.loads(result.stdout)) == (0, {"count": 5}), result.stderr
    from_env = actorkit("state", *url, "counter", "s", env={"ACTORKIT_INSPECTOR_TOKEN": TOKEN})
    assert json.loads(from_env.stdout) == {"count": 5}
    no_token = actorkit("state", *url, "counter", "s")
    assert no_token.returncode == 1 and no_token.stderr.startswith("error: unauthorized: ")
    garbled = actorkit("state", *url, "--token", "tok\u2026", "counter", "s")
    assert garbled.returncode == 2, garbled.stderr
    assert garbled.stderr == "error: the inspector token must be printable ASCII\n"
    missing = actorkit("state", *url, "--token", TOKEN, "counter", "nobody")
    assert missing.returncode == 1 and missing.stderr.startswith("error: actor_not_found: ")
    assert not _exists(server, "counter", ["nobody"])


def test_state_command_when_the_inspector_is_off(actor_server: ServerProcess) -> None:
    url = ["--url", actor_server.url]
    actorkit("call", *url, "counter", "off", "increment")
    result = actorkit("state", *url, "counter", "off")
    assert result.returncode == 1
    assert result.stderr.startswith("error: inspector_off: ") and "actorkit dev" in result.stderr


def test_by_key_route(actor_server: ServerProcess) -> None:
    base = f"{actor_server.url}/actors/by-key/counter/actions"
    missing = httpx.post(f"{base}/increment", params={"key": "bk"}, json={"args": [2]})
    assert missing.status_code == 404 and missing.json()["code"] == "actor_not_found"
    reply = httpx.post(f"{base}/increment?key=bk&create=true", json={"args": [2]})
    assert reply.status_code == 200, reply.text
    actor_id = reply.json()["actor_id"]
    assert reply.json() == {"output": 2, "actor_id": actor_id}
    # Existing actor: no create needed; a JSON array key and repeated key= both work.
    again = httpx.post(f"{base}/increment", params={"key": '["bk"]'}, json={"args": [1]})
    assert again.json() == {"output": 3, "actor_id": actor_id}
    two = httpx.post(f"{base}/echo?key=a&key=b&create=true", json={"args": ["x"]})
    assert two.json()["output"] == "x" and _exists(actor_server, "counter", ["a", "b"])
    bad = httpx.post(f"{base}/increment?key=bk&create=yes", json={})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    nope = httpx.post(f"{base}/nope?key=bk2&create=true", json={})
    assert nope.status_code == 404 and nope.json()["code"] == "action_not_found"
    assert not _exists(actor_server, "counter", ["bk2"])
    # Keyword arguments, checked before creating: a wrong keyword creates nothing.
    wrong = httpx.post(f"{base}/increment?key=kw&create=true", json={"kwargs": {"by": 1}})
    assert wrong.status_code == 400 and wrong.json()["code"] == "validation_error"
    assert not _exists(actor_server, "counter", ["kw"])
    keyword = httpx.post(f"{base}/increment?key=kw&create=true", json={"kwargs": {"amount": 4}})
    assert keyword.status_code == 200 and keyword.json()["output"] == 4, keyword.text
    csrf = httpx.post(f"{base}/increment?key=bk", content=b"")  # no content type
    assert csrf.status_code == 415
    assert httpx.post(actor_server.url + f"/actors/{actor_id}/actions/get", json={}).json() == {
        "output": 3
    }
    doc = httpx.get(actor_server.url + "/openapi.json").json()
    assert doc["paths"]["/actors/by-key/{name}/actions/{action}"]["post"]["operationId"] == (
        "callActionByKey"
    )


async def test_first_call_by_key_is_one_request(actor_server: ServerProcess) -> None:
    sent: list[str] = []

    async def record(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    http = httpx.AsyncClient(base_url=actor_server.url, event_hooks={"request": [record]})
    async with http, AsyncClient(transport=HttpTransport(actor_server.url, http=http)) as client:
        counter = client.get_or_create("counter", "one-trip")
        assert await counter.increment(2) == 2
        assert sent == ["POST /actors/by-key/counter/actions/increment"]
        assert await counter.increment(1) == 3  # then by id
        assert sent[1] == f"POST /actors/{await counter.resolve()}/actions/increment"
        sent.clear()
        found = client.get("counter", "one-trip")
        assert await found.get() == 3
        assert sent == ["POST /actors/by-key/counter/actions/get"]
        with pytest.raises(Exception) as info:
            await client.get("counter", "no-such").get()
        assert getattr(info.value, "code", None) == "actor_not_found"
    assert not _exists(actor_server, "counter", ["no-such"])
