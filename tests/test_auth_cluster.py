"""Authentication in a cluster: the node a client reaches checks first (before anything is
activated anywhere); the owner node checks the forwarded call or socket again, with the
client's own headers. Real ``actorkit serve`` processes sharing PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from cluster_fixtures import ClusterFactory
from test_auth import APP, GOOD, auth_seen, lines


def test_a_forwarded_call_and_socket_are_authenticated_with_the_clients_headers(
    cluster: ClusterFactory, events_file: Path
) -> None:
    owner, entry = cluster(2, app=APP)
    created = httpx.put(owner.url + "/actors", json={"name": "vault", "key": ["c"]}, headers=GOOD)
    assert created.status_code == 200, created.text
    actor_id = created.json()["actor_id"]
    call = f"{entry.url}/actors/{actor_id}/actions/pid"

    # Refused where it arrives: the owner never hears of it.
    refused = httpx.post(call, json={"args": []})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    calls = [s for s in auth_seen(events_file) if s["intent"] == "call"]
    assert [s["pid"] for s in calls] == [entry.pid]

    # Admitted by both: the owner saw the client's Authorization header, not the node's.
    reply = httpx.post(call, json={"args": []}, headers=GOOD)
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"] == owner.pid
    calls = [s for s in auth_seen(events_file) if s["intent"] == "call"][1:]
    assert [s["pid"] for s in calls] == [entry.pid, owner.pid]
    assert {s["authorization"] for s in calls} == {"Bearer good"}
    assert all(s["actor_id"] == actor_id and s["action"] == "pid" for s in calls)

    # A socket through the other node is pumped to the owner, which checks the init with
    # the headers of the client's handshake.
    url = "ws" + entry.url.removeprefix("http") + f"/actors/{actor_id}/connect"
    with connect(url, additional_headers=GOOD) as ws:
        ws.send(json.dumps({"t": "init", "params": {}}))
        welcome: dict[str, Any] = json.loads(ws.recv())
    assert "conn_id" in welcome, welcome
    connects = [s for s in auth_seen(events_file) if s["intent"] == "connect"]
    assert [(s["pid"], s["authorization"]) for s in connects] == [(owner.pid, "Bearer good")]
    assert len(lines(events_file, "wake")) == 1  # one activation, on the owner


SECRET = "cluster-secret-for-tests"


def test_actor_code_calling_a_peer_node_is_trusted_only_with_the_cluster_secret(
    cluster: ClusterFactory, events_file: Path
) -> None:
    first, second = cluster(2, app=APP, env={"ACTORKIT_CLUSTER_SECRET": SECRET})
    caller = _create(first, "caller")
    callee = _create(second, "callee")

    # Actor code on the first node calls an actor the second owns: the call is forwarded
    # without any client's credentials, and the second node lets it in on the secret alone.
    before = len(auth_seen(events_file))
    reply = httpx.post(
        f"{first.url}/actors/{caller}/actions/peer_pid", json={"args": [callee]}, headers=GOOD
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"] == second.pid
    seen = auth_seen(events_file)[before:]
    assert [(s["pid"], s["action"]) for s in seen] == [(first.pid, "peer_pid")]

    # A wrong secret is no credential: that request is authenticated like any client's.
    forged = httpx.post(
        f"{second.url}/actors/{callee}/actions/pid",
        json={"args": []},
        headers={"x-actorkit-cluster-secret": "guess"},
    )
    assert forged.status_code == 401, forged.text
    trusted = httpx.post(
        f"{second.url}/actors/{callee}/actions/pid",
        json={"args": []},
        headers={"x-actorkit-cluster-secret": SECRET},
    )
    assert trusted.status_code == 200, trusted.text


def test_without_a_cluster_secret_actor_code_calling_a_peer_node_is_authenticated(
    cluster: ClusterFactory,
) -> None:
    first, second = cluster(2, app=APP)
    caller = _create(first, "caller")
    callee = _create(second, "callee")
    reply = httpx.post(
        f"{first.url}/actors/{caller}/actions/peer_pid", json={"args": [callee]}, headers=GOOD
    )
    # The peer cannot tell actor code from a client: with no credentials it refuses.
    assert reply.status_code == 401, reply.text
    assert reply.json()["code"] == "unauthorized"
    local = _create(first, "local")
    reply = httpx.post(
        f"{first.url}/actors/{caller}/actions/peer_pid", json={"args": [local]}, headers=GOOD
    )
    assert reply.status_code == 200 and reply.json()["output"] == first.pid, reply.text


def _create(node: Any, key: str) -> str:
    created = httpx.put(node.url + "/actors", json={"name": "vault", "key": [key]}, headers=GOOD)
    assert created.status_code == 200, created.text
    return str(created.json()["actor_id"])
