"""A real server process answers the basic routes over real HTTP."""

from __future__ import annotations

import httpx

from server_fixtures import ServerProcess


def test_server_health_and_action_roundtrip(actor_server: ServerProcess) -> None:
    with httpx.Client(base_url=actor_server.url) as http:
        assert http.get("/health").json()["status"] == "ok"
        actor = http.put("/actors", json={"name": "counter", "key": ["smoke"]}).json()
        url = f"/actors/{actor['actor_id']}/actions/increment"
        assert http.post(url, json={"args": [2]}).json() == {"output": 2}
        assert http.post(url, json={"args": [3]}).json() == {"output": 5}
