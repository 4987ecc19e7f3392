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
