"""``/inspector/api/live`` over a real WebSocket: live events, filtering, and token checks
(header, subprotocol, query parameter; refused with 4401)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from inspector_helpers import TOKEN, call, create
from server_fixtures import ServerProcess


def live_url(server: ServerProcess, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + "/inspector/api/live" + query


def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def next_event(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message = receive(ws)
        if message["type"] == "event" and message["kind"] == kind:
            return message


def test_live_streams_state_and_action_events_of_one_actor(dev: ServerProcess) -> None:
    watched = create(dev.url, "counter", ["live-a"])
    other = create(dev.url, "counter", ["live-b"])
    with connect(live_url(dev, f"?actor_id={watched}")) as ws:
        hello = receive(ws)
        assert hello["type"] == "hello" and hello["dev"] is True and hello["console"] is True
        call(dev.url, other, "increment", 100)  # filtered out
        call(dev.url, watched, "increment", 2)
        state = next_event(ws, "state")
        assert state["actor_id"] == watched and state["state"] == {"count": 2, "history": [2]}
        action = next_event(ws, "action")
        assert (action["name"], action["args"], action["output"]) == ("increment", [2], 2)
        # Switch the filter to every actor by message.
        ws.send(json.dumps({"actor_id": None}))
        while (ack := receive(ws))["type"] != "filter":
            assert ack["actor_id"] == watched
        assert ack["actor_id"] is None
        call(dev.url, other, "increment", 1)
        assert next_event(ws, "state")["actor_id"] == other


def test_live_refuses_a_socket_without_the_token(guarded: ServerProcess) -> None:
    for query in ("", "?token=wrong"):
        with connect(live_url(guarded, query)) as ws:
            error = receive(ws)
            assert error["type"] == "error" and error["code"] == "unauthorized"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize("how", ["header", "subprotocol", "query"])
def test_live_accepts_the_token_three_ways(guarded: ServerProcess, how: str) -> None:
    actor_id = create(guarded.url, "counter", [f"live-{how}"])
    kwargs: dict[str, Any] = {}
    query = ""
    if how == "header":
        kwargs["additional_headers"] = {"Authorization": f"Bearer {TOKEN}"}
    elif how == "subprotocol":
        encoded = base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("=")
        kwargs["subprotocols"] = ["actorkit.inspector", f"actorkit.token.{encoded}"]
    else:
        from urllib.parse import quote

        query = f"?token={quote(TOKEN, safe='')}"
    with connect(live_url(guarded, query), **kwargs) as ws:
        if how == "subprotocol":
            assert ws.subprotocol == "actorkit.inspector"
        hello = receive(ws)
        assert hello["type"] == "hello" and hello["console"] is False
        call(guarded.url, actor_id, "increment", 5)
        event = next_event(ws, "state")
        assert event["actor_id"] == actor_id and event["state"]["count"] == 5


def test_live_refuses_a_page_from_another_origin(dev: ServerProcess) -> None:
    with connect(live_url(dev), origin="http://evil.example") as ws:
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "forbidden"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    same = dev.url  # the page's own origin is fine
    with connect(live_url(dev), origin=same) as ws:
        assert receive(ws)["type"] == "hello"
