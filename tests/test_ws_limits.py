"""Bad input on the connection socket: each case gets a documented error or close code,
and other connections and the actor carry on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from actorkit import AsyncClient
from server_fixtures import ServerFactory, ServerProcess
from ws_helpers import eventually, room_params

APP = "tests/apps/realtime_app.py:registry"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("limits") / "data"
    proc = ServerProcess(APP, f"sqlite:///{data}").start()
    yield proc
    proc.stop()


def actor_id(server: ServerProcess, key: str) -> str:
    r = httpx.put(server.url + "/actors", json={"name": "room", "key": [key]})
    return str(r.json()["actor_id"])


async def open_raw(server: ServerProcess, key: str, *, init: bool = True) -> ClientConnection:
    url = server.url.replace("http", "ws") + f"/actors/{actor_id(server, key)}/connect"
    ws = await connect(url, subprotocols=[Subprotocol("actorkit.json")], max_size=None)
    assert ws.subprotocol == "actorkit.json"
    if init:
        await ws.send(json.dumps({"t": "init", "params": room_params("raw")}))
        welcome = json.loads(await ws.recv())
        assert welcome["t"] == "init" and welcome["resumed"] is False
    return ws


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    while True:
        msg = json.loads(await ws.recv())
        if msg["t"] != "ping":
            return msg  # type: ignore[no-any-return]


async def still_serving(server: ServerProcess, key: str) -> None:
    """Another connection and the actor are unaffected."""
    async with (
        AsyncClient(server.url) as client,
        client.get_or_create("room", key).connect(room_params("other")) as conn,
    ):
        assert await conn.say("still here") >= 1


async def test_oversized_frame_closes_with_1009(server: ServerProcess) -> None:
    ws = await open_raw(server, "big")
    await ws.send(json.dumps({"t": "action", "id": 1, "name": "say", "args": ["x" * 70_000]}))
    err = await recv_json(ws)
    assert (err["t"], err["id"], err["code"]) == ("error", None, "message_too_large")
    assert err["metadata"] == {"limit": 65536}
    with pytest.raises(ConnectionClosed) as info:
        await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await still_serving(server, "big")


async def test_malformed_and_unknown_frames_get_invalid_request(server: ServerProcess) -> None:
    ws = await open_raw(server, "bad")
    for frame in ["not json", "[1, 2]", json.dumps({"t": "bogus"}), json.dumps({"t": "action"})]:
        await ws.send(frame)
        err = await recv_json(ws)
        assert (err["t"], err["id"], err["code"]) == ("error", None, "invalid_request"), frame
    # The same socket still works.
    await ws.send(json.dumps({"t": "action", "id": 7, "name": "say", "args": ["ok"]}))
    msg = await recv_json(ws)
    assert msg == {"t": "result", "id": 7, "output": 1}
    await ws.send(json.dumps({"t": "action", "id": 8, "name": "nope", "args": []}))
    err = await recv_json(ws)
    assert (err["id"], err["code"]) == (8, "action_not_found")
    await ws.send(json.dumps({"t": "action", "id": 9, "name": "say", "args": [5]}))
    err = await recv_json(ws)
    assert (err["id"], err["code"]) == (9, "validation_error")
    await ws.close()
    await still_serving(server, "bad")


async def test_action_before_init_is_refused(server: ServerProcess) -> None:
    ws = await open_raw(server, "early", init=False)
    await ws.send(json.dumps({"t": "action", "id": 3, "name": "say", "args": ["hi"]}))
    err = await recv_json(ws)
    assert (err["id"], err["code"]) == (3, "invalid_request")
    await ws.send(json.dumps({"t": "init", "params": {"token": "bad", "user": "x"}}))
    err = await recv_json(ws)
    assert (err["id"], err["code"]) == (None, "forbidden")
    with pytest.raises(ConnectionClosed) as info:
        await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4001
    await still_serving(server, "early")


async def test_unknown_actor_is_rejected(server: ServerProcess) -> None:
    url = server.url.replace("http", "ws") + "/actors/nosuchactor/connect"
    async with connect(url, subprotocols=[Subprotocol("actorkit.json")]) as ws:
        await ws.send(json.dumps({"t": "init", "params": {}}))
        err = await recv_json(ws)
        assert err["code"] == "actor_not_found"
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001


async def test_flood_from_one_connection_is_bounded(server: ServerProcess) -> None:
    ws = await open_raw(server, "flood")
    n = 300
    for i in range(n):
        await ws.send(json.dumps({"t": "action", "id": i, "name": "whoami", "args": [0.001]}))
    outcomes: dict[int, str] = {}
    while len(outcomes) < n:
        msg = await recv_json(ws)
        outcomes[msg["id"]] = "ok" if msg["t"] == "result" else msg["code"]
    assert set(outcomes.values()) == {"ok", "overloaded"}
    assert list(outcomes.values()).count("ok") >= 64
    await ws.close()
    await still_serving(server, "flood")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_slow_consumer_is_dropped_and_memory_stays_bounded(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP, env={"ACTORKIT_TEST_GRACE": "60"})
    assert server.proc is not None
    ws = await open_raw(server, "slow")
    await ws.send(json.dumps({"t": "sub", "event": "blob"}))
    # Never read from `ws` again. Push ~60 MB of events at it.
    async with AsyncClient(server.url) as client:
        room = client.get_or_create("room", "slow", params=room_params("admin"))
        await room.flood(10, 50_000)
        base = rss_kib(server.proc.pid)
        for _ in range(12):
            await room.flood(100, 50_000)
        grown = rss_kib(server.proc.pid) - base
        # Dropped for falling behind; the events buffered for a resume overflowed too, so
        # the connection was given up (on_disconnect ran) instead of growing memory.
        stats = await eventually(room.stats, lambda s: s["disconnects"] == ["raw"])
        assert stats["conns"] == [] and stats["disconnects"] == ["raw"]
        assert grown < 40 * 1024, f"server RSS grew by {grown} KiB"
    closed = asyncio.ensure_future(_drain_until_closed(ws))
    code = await asyncio.wait_for(closed, 60)
    assert code in (4008, 1006)
    await still_serving(server, "slow")


async def _drain_until_closed(ws: ClientConnection) -> int:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else 1006


async def test_raw_websocket_echo_and_guard(server: ServerProcess) -> None:
    aid = actor_id(server, "raw")
    base = server.url.replace("http", "ws") + f"/actors/{aid}/websocket/echo"
    params = quote(json.dumps(room_params("x")))
    async with connect(base + "?params=" + params) as ws:
        await ws.send("hi")
        assert await ws.recv() == "echo:hi"
    with pytest.raises(InvalidStatus) as info:
        async with connect(base + "?params=" + quote('{"token": "no"}')):
            pass
    assert info.value.response.status_code == 403
