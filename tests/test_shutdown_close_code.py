"""What a connected client sees when the server shuts down: close 1012, as protocol.md says.

1012 ("service restart") is what uvicorn sends to every socket still open when it stops,
and what the runtime sends when it stops an actor whose socket cannot hibernate; clients
reconnect and resume on it.
"""

from __future__ import annotations

import json

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from actorkit.protocol.messages import CLOSE_RESTARTING
from server_fixtures import ServerFactory


def test_server_shutdown_closes_connections_with_1012(server_factory: ServerFactory) -> None:
    server = server_factory("examples/counter/app.py:registry")
    actor = httpx.put(server.url + "/actors", json={"name": "counter", "key": ["c"]}).json()
    url = server.url.replace("http", "ws") + f"/actors/{actor['actor_id']}/connect"
    with connect(url, subprotocols=["actorkit.json"]) as ws:
        ws.send(json.dumps({"t": "init", "params": None, "subscriptions": []}))
        assert json.loads(ws.recv(timeout=30))["t"] == "init"
        server.stop()
        try:
            while True:
                ws.recv(timeout=30)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            assert closed.rcvd.code == CLOSE_RESTARTING == 1012
