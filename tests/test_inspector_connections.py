"""Connections in the inspector, with real WebSocket clients: listed with params and state,
counted in the actor list, disconnected from the inspector (``on_disconnect`` runs, the
client does not reconnect), and reported as connect/disconnect events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actorkit import AsyncClient
from actorkit.client.connection import ConnectionStatus
from inspector_helpers import create, dev_server
from ws_helpers import eventually


async def test_connections_are_listed_and_disconnected_from_the_inspector(
    tmp_path: Path,
) -> None:
    server = dev_server(tmp_path / "data")
    api = server.url + "/inspector/api"
    try:
        actor_id = create(server.url, "lobby", ["hall"])
        async with AsyncClient(server.url) as client, httpx.AsyncClient() as http:
            lobby = client.get_or_create("lobby", ["hall"])
            ann = lobby.connect({"user": "ann"})
            bob = lobby.connect({"user": "bob"})
            await ann.open()
            await bob.open()

            conns = (await http.get(f"{api}/actors/{actor_id}/connections")).json()
            by_user = {c["params"]["user"]: c for c in conns["connections"]}
            assert set(by_user) == {"ann", "bob"}
            assert by_user["ann"]["id"] == ann.id
            assert by_user["ann"]["state"] == {"user": "ann", "seen": 0}
            assert by_user["ann"]["connected"] is True
            listed = (await http.get(f"{api}/actors", params={"name": "lobby"})).json()
            assert listed["actors"][0]["connections"] == 2

            reply = await http.delete(f"{api}/actors/{actor_id}/connections/{ann.id}")
            assert reply.status_code == 200, reply.text
            await eventually(lambda: _status(ann), lambda s: s is ConnectionStatus.CLOSED)
            assert ann.status is ConnectionStatus.CLOSED  # closed for good: no reconnect

            async def remaining() -> Any:
                r = await http.get(f"{api}/actors/{actor_id}/connections")
                return [c["id"] for c in r.json()["connections"]]

            assert await eventually(remaining, lambda ids: ids == [bob.id]) == [bob.id]
            assert await lobby.left() == 1  # on_disconnect ran

            events = (await http.get(f"{api}/events", params={"actor_id": actor_id})).json()
            seen = [(e["kind"], e.get("conn_id")) for e in events["events"]]
            assert ("connect", ann.id) in seen and ("connect", bob.id) in seen
            assert ("disconnect", ann.id) in seen
            connect = next(e for e in events["events"] if e["kind"] == "connect")
            assert connect["params"]["user"] in ("ann", "bob")

            missing = await http.delete(f"{api}/actors/{actor_id}/connections/{ann.id}")
            assert missing.status_code == 404 and missing.json()["code"] == "not_found"
            await bob.aclose()
    finally:
        server.stop()


async def _status(conn: Any) -> Any:
    return conn.status
