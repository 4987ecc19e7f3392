"""Authentication runs before creation and activation (tests/apps/auth_app.py, real servers).

A refused client must neither create an actor nor wake one: no ``create_vars``, no
``on_wake``. The app logs both (and every ``authenticate`` call) to a file, so the tests see
what ran in the server process.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from actorkit import Actor, ActorError, AuthRequest, Registry, UserError, action
from actorkit._runtime import auth as auth_module
from actorkit._runtime.auth import authenticate
from server_fixtures import ServerFactory, ServerProcess

APP = "tests/apps/auth_app.py:registry"
GOOD = {"authorization": "Bearer good"}
#: What a script (not a browser form) sends on DELETE: see docs/protocol.md "CSRF".
SCRIPT = {**GOOD, "x-actorkit-client": "test"}


def lines(log: Path, kind: str) -> list[str]:
    if not log.exists():
        return []
    return [ln for ln in log.read_text().splitlines() if ln.split(" ", 1)[0] == kind]


def auth_seen(log: Path) -> list[dict[str, Any]]:
    return [json.loads(ln.split(" ", 1)[1]) for ln in lines(log, "auth")]


def refused(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["code"] == code, reply.text


def ws_url(server: ServerProcess, path: str) -> str:
    return "ws" + server.url.removeprefix("http") + path


def connect_init(server: ServerProcess, actor_id: str, params: Any) -> list[dict[str, Any]]:
    """Open the connection protocol, send ``init``; the frames until the welcome (the
    server's ``init``), or until the socket closes (then ``{"close": code}``)."""
    frames: list[dict[str, Any]] = []
    with connect(ws_url(server, f"/actors/{actor_id}/connect")) as ws:
        ws.send(json.dumps({"t": "init", "params": params}))
        try:
            while not frames or "conn_id" not in frames[-1]:  # the server's "init": welcome
                frames.append(json.loads(ws.recv()))
        except ConnectionClosed as closed:
            frames.append({"close": closed.rcvd.code if closed.rcvd else None})
    return frames


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return tmp_path / "events.log"


@pytest.fixture
def server(server_factory: ServerFactory, events: Path) -> ServerProcess:
    return server_factory(APP, env={"ACTORKIT_TEST_EVENTS": str(events)})


def test_refused_create_creates_nothing_and_accepted_create_does(
    server: ServerProcess, events: Path
) -> None:
    body = {"name": "vault", "key": ["a"]}
    refused(httpx.put(server.url + "/actors", json=body), 401, "unauthorized")
    refused(httpx.post(server.url + "/actors", json=body), 401, "unauthorized")
    wrong = {"authorization": "Bearer bad"}
    refused(httpx.put(server.url + "/actors", json=body, headers=wrong), 401, "unauthorized")
    # Lookups and listings are guarded too (and the listing shows nothing was created).
    refused(httpx.get(server.url + "/actors", params={"name": "vault"}), 401, "unauthorized")
    refused(
        httpx.get(server.url + "/actors", params={"name": "vault", "key": "a"}),
        401,
        "unauthorized",
    )
    listing = httpx.get(server.url + "/actors", params={"name": "vault"}, headers=GOOD)
    assert listing.json()["actors"] == []
    assert lines(events, "vars") == [] and lines(events, "wake") == []

    created = httpx.put(server.url + "/actors", json=body, headers=GOOD)
    assert created.status_code == 200, created.text
    assert [ln.split()[:2] for ln in lines(events, "vars")] == [["vars", "a"]]
    assert [ln.split()[:2] for ln in lines(events, "wake")] == [["wake", "a"]]
    seen = [s for s in auth_seen(events) if s["intent"] in ("create", "get_or_create")]
    assert [s["intent"] for s in seen] == [
        "get_or_create",
        "create",
        "get_or_create",
        "get_or_create",
    ]
    assert seen[-1]["name"] == "vault" and seen[-1]["key"] == ["a"]
    assert seen[-1]["authorization"] == "Bearer good" and seen[-1]["client"] == "127.0.0.1"


def test_refused_clients_do_not_wake_a_sleeping_actor(server: ServerProcess, events: Path) -> None:
    created = httpx.put(server.url + "/actors", json={"name": "vault", "key": ["b"]}, headers=GOOD)
    actor_id = created.json()["actor_id"]
    server.restart()  # the actor sleeps: every refusal below must leave it asleep
    wakes = len(lines(events, "wake"))
    assert wakes == 1

    call = f"{server.url}/actors/{actor_id}/actions/unlock"
    refused(httpx.post(call, json={"args": []}), 401, "unauthorized")
    refused(httpx.post(call, json={"args": [], "params": {"token": "bad"}}), 401, "unauthorized")
    refused(httpx.get(f"{server.url}/actors/{actor_id}"), 401, "unauthorized")
    refused(httpx.get(f"{server.url}/actors/{actor_id}/request/x"), 401, "unauthorized")
    # Authenticated, but the class-level hook lets only admins destroy.
    refused(httpx.delete(f"{server.url}/actors/{actor_id}", headers=SCRIPT), 403, "forbidden")
    # A crashing hook refuses too, as an internal error.
    crash = {**GOOD, "x-crash": "1"}
    refused(httpx.post(call, json={"args": []}, headers=crash), 500, "internal_error")
    # WebSockets: the connection protocol refuses at init, raw sockets at the handshake.
    frames = connect_init(server, actor_id, {"token": "bad"})
    assert frames[0]["t"] == "error" and frames[0]["code"] == "unauthorized"
    assert frames[-1] == {"close": 4001}
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server, f"/actors/{actor_id}/websocket/x"))
    assert info.value.response.status_code == 403
    assert len(lines(events, "wake")) == wakes  # nothing above woke it

    # The same requests with credentials do wake it, exactly once.
    reply = httpx.post(call, json={"args": [], "params": {"token": "good"}})
    assert reply.status_code == 200 and reply.json()["output"] == 1
    assert len(lines(events, "wake")) == wakes + 1
    welcome = connect_init(server, actor_id, {"token": "good"})[-1]
    assert welcome["t"] == "init" and welcome["actor_id"] == actor_id, welcome
    with connect(
        ws_url(server, f"/actors/{actor_id}/websocket/x?params=%7B%22token%22%3A%22good%22%7D")
    ) as ws:
        ws.send("hi")
        assert ws.recv() == "echo:hi"
    raw = httpx.get(f"{server.url}/actors/{actor_id}/request/x", headers=GOOD)
    assert raw.text == "raw /x"
    assert len(lines(events, "wake")) == wakes + 1

    seen = auth_seen(events)
    calls = [s for s in seen if s["intent"] == "call"]
    assert calls[-1]["actor_id"] == actor_id and calls[-1]["name"] == "vault"
    assert calls[-1]["key"] == ["b"] and calls[-1]["action"] == "unlock"
    assert calls[-1]["params"] == {"token": "good"}
    connects = [s for s in seen if s["intent"] == "connect"]
    assert [c["params"] for c in connects] == [{"token": "bad"}, {"token": "good"}]
    assert {s["intent"] for s in seen} >= {"request", "websocket", "destroy", "get"}

    admin = {**SCRIPT, "x-role": "admin"}
    assert httpx.delete(f"{server.url}/actors/{actor_id}", headers=admin).status_code == 200


def test_in_process_callers_are_not_authenticated() -> None:
    """The test client and actors' own ``self.client`` are the application's code."""
    refusals: list[AuthRequest] = []

    def refuse_all(request: AuthRequest) -> None:
        refusals.append(request)
        raise UserError("never")

    class Echo(Actor):
        @action
        async def relay(self, text: str) -> str:
            return str(await self.client.get_or_create(Echo, "other").echo(text))

        @action
        def echo(self, text: str) -> str:
            return text

    async def main() -> None:
        async with Registry(Echo, authenticate=refuse_all).test_client() as client:
            echo = client.get_or_create(Echo, "one")
            assert await echo.relay("hi") == "hi"
            async with echo.connect() as conn:
                assert await conn.echo("via a connection") == "via a connection"

    asyncio.run(main())
    assert refusals == []


def test_authenticate_must_be_a_static_method() -> None:
    class Bad(Actor):
        def authenticate(self, request: AuthRequest) -> None:  # an instance method
            pass

    with pytest.raises(TypeError, match="must be a @staticmethod"):
        Registry(Bad)


def test_authenticate_is_not_an_action_name() -> None:
    class Bad(Actor):
        @action
        def authenticate(self) -> None:
            pass

    with pytest.raises(TypeError, match="cannot be an action"):
        Registry(Bad)


# -- the hook runner itself (actorkit._runtime.auth), without a server ---------------------


trail: list[str] = []  # which hooks ran, in order


class Door(Actor):
    @staticmethod
    async def authenticate(request: AuthRequest) -> None:
        trail.append(f"class {request.intent}")
        if request.intent == "destroy":
            raise UserError("doors stay", code="forbidden", metadata={"door": request.key})

    @action
    def knock(self) -> None:
        pass


def judge(registry: Registry, request: AuthRequest) -> ActorError | None:
    async def run() -> ActorError | None:
        try:
            await authenticate(registry, request)
        except ActorError as err:
            return err
        return None

    return asyncio.run(run())


def test_hooks_run_registry_first_then_class_and_map_refusals() -> None:
    trail.clear()

    def gatekeeper(request: AuthRequest) -> None:
        trail.append(f"registry {request.intent}")
        if request.headers.get("authorization") is None:
            raise UserError("no credentials")

    registry = Registry(Door, authenticate=gatekeeper)
    creds = {"authorization": "Bearer x"}
    door = AuthRequest(intent="call", actor_name="door", key=("front",), headers=creds)
    assert judge(registry, door) is None
    assert trail == ["registry call", "class call"]

    refused = judge(registry, AuthRequest(intent="call", actor_name="door"))
    assert refused is not None and (refused.group, refused.code) == ("user", "unauthorized")
    assert refused.message == "no credentials"
    assert trail[-1] == "registry call"  # the class hook did not run after a refusal

    destroy = AuthRequest(intent="destroy", actor_name="door", key=("front",), headers=creds)
    refused = judge(registry, destroy)
    assert refused is not None and refused.code == "forbidden"
    assert refused.metadata == {"door": ("front",)}
    # A type this node does not host: only the registry-level hook can run here.
    assert (
        judge(registry, AuthRequest(intent="create", actor_name="elsewhere", headers=creds)) is None
    )


@pytest.mark.parametrize(
    "hook",
    [
        pytest.param(lambda request: 1 / 0, id="crash"),
        pytest.param(lambda request: False, id="returns-false"),
        pytest.param(lambda request: asyncio.sleep(0, result=True), id="async-returns-true"),
    ],
)
def test_a_broken_hook_refuses_with_internal_error(hook: Any) -> None:
    refused = judge(Registry(Door, authenticate=hook), AuthRequest(intent="call"))
    assert refused is not None and refused.code == "internal_error"
    assert refused.message == "internal error"  # details stay in the server log


def test_a_hook_that_never_answers_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, "AUTH_TIMEOUT", 0.01)

    async def hangs(request: AuthRequest) -> None:
        await asyncio.Event().wait()

    refused = judge(Registry(Door, authenticate=hangs), AuthRequest(intent="connect"))
    assert refused is not None and refused.code == "internal_error"
