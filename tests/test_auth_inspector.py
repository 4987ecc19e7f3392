"""A dev server without a token answers the inspector only on loopback names (DNS rebinding).

A page on ``rebind.attacker.example`` whose DNS name is re-pointed at 127.0.0.1 is
same-origin with the dev server: ``Host`` and ``Origin`` both name the attacker's domain, so
the origin check alone let it run Python in the console. Real ``actorkit dev`` servers here.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from inspector_helpers import INSPECTOR_APP, TOKEN, call, create
from server_fixtures import ServerFactory, ServerProcess

REBIND = "rebind.attacker.example"


def console(server: ServerProcess, actor_id: str, host: str, code: str) -> httpx.Response:
    """Run ``code`` in the console as a page served from ``http://{host}`` would."""
    return httpx.post(
        f"{server.url}/inspector/api/actors/{actor_id}/console",
        json={"code": code},
        headers={"host": host, "origin": f"http://{host}"},
    )


def dev_with(server_factory: ServerFactory, tmp_path: Path, **env: str) -> ServerProcess:
    data = f"sqlite:///{tmp_path / 'dev'}"
    return server_factory(INSPECTOR_APP, storage=data, command="dev", args=["--no-reload"], env=env)


def test_dev_console_refuses_a_rebound_host_and_answers_loopback_names(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    dev = dev_with(server_factory, tmp_path, ACTORKIT_ALLOWED_HOSTS="myapp.test, *.corp.example")
    port = dev.port
    actor_id = create(dev.url, "counter", ["rebind"])
    attack = "self.state['count'] = 666"

    reply = console(dev, actor_id, f"{REBIND}:{port}", attack)
    assert reply.status_code == 403, reply.text
    body = reply.json()
    assert body["code"] == "forbidden"
    assert body["metadata"] == {"reason": "host_not_allowed", "host": REBIND}
    assert call(dev.url, actor_id, "get") == 0  # the code did not run
    # Every inspector route, not only the console; a listing leaks actors too.
    listing = httpx.get(f"{dev.url}/inspector/api/actors", headers={"host": REBIND})
    assert listing.status_code == 403 and listing.json()["code"] == "forbidden"
    # Look-alikes of allowed names are not allowed.
    for host in ("corp.example", "myapp.test.evil.example", "localhost.evil.example"):
        assert console(dev, actor_id, host, attack).status_code == 403, host
    assert call(dev.url, actor_id, "get") == 0

    # Names only this machine can mean, with or without a port, and the configured ones.
    allowed = [
        f"localhost:{port}",
        "localhost",
        f"app.localhost:{port}",
        f"127.0.0.1:{port}",
        f"[::1]:{port}",
        "myapp.test",
        f"team.corp.example:{port}",
    ]
    for n, host in enumerate(allowed, start=1):
        reply = console(dev, actor_id, host, f"self.state['count'] = {n}")
        assert reply.status_code == 200, (host, reply.text)
    assert call(dev.url, actor_id, "get") == len(allowed)

    # An allowed host does not lift the origin check: another site's page is still refused.
    cross = httpx.post(
        f"{dev.url}/inspector/api/actors/{actor_id}/console",
        json={"code": attack},
        headers={"host": f"localhost:{port}", "origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and cross.json()["code"] == "forbidden"
    assert call(dev.url, actor_id, "get") == len(allowed)


def test_dev_live_socket_refuses_a_rebound_host(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    dev = dev_with(server_factory, tmp_path)
    path = "/inspector/api/live"

    def open_as(host: str) -> dict[str, object]:
        sock = socket.create_connection(("127.0.0.1", dev.port))
        uri = f"ws://{host}:{dev.port}{path}"
        with connect(uri, sock=sock, origin=f"http://{host}:{dev.port}") as ws:  # type: ignore[arg-type]
            try:
                return dict(json.loads(ws.recv()))
            except ConnectionClosed as closed:
                return {"close": closed.rcvd.code if closed.rcvd else None}

    refused = open_as(REBIND)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert open_as("localhost")["type"] == "hello"


def test_a_token_server_needs_the_token_not_a_loopback_host(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    guarded = server_factory(INSPECTOR_APP, env={"ACTORKIT_INSPECTOR_TOKEN": TOKEN})
    url = f"{guarded.url}/inspector/api/actors"
    assert httpx.get(url, headers={"host": REBIND}).status_code == 401
    with_token = {"host": REBIND, "authorization": f"Bearer {TOKEN}"}
    assert httpx.get(url, headers=with_token).status_code == 200
