"""CORS: browser pages from allowed origins may call the HTTP API; others get no grant."""

from __future__ import annotations

import httpx

from server_fixtures import ServerFactory

ALLOWED = "http://app.example"


def test_cors_preflight_and_calls_from_allowed_origin(server_factory: ServerFactory) -> None:
    server = server_factory(args=["--cors-origin", ALLOWED])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        actor_id = http.put("/actors", json={"name": "counter", "key": ["c"]}).json()["actor_id"]
        path = f"/actors/{actor_id}/actions/increment"

        preflight = http.options(
            path,
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]

        call = http.post(path, json={"args": [2]}, headers={"Origin": ALLOWED})
        assert call.json() == {"output": 2}
        assert call.headers["access-control-allow-origin"] == ALLOWED

        other = http.post(path, json={"args": [1]}, headers={"Origin": "http://evil.example"})
        assert other.status_code == 200  # CORS is enforced by browsers, not the server ...
        assert "access-control-allow-origin" not in other.headers  # ... which grants nothing
        refused = http.options(
            path,
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400


def test_no_cors_headers_unless_configured(server_factory: ServerFactory) -> None:
    server = server_factory()
    r = httpx.get(server.url + "/health", headers={"Origin": ALLOWED}, timeout=30)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
