"""Bad input on the connection socket: each case gets a documented error or close code,
and other connections and the actor carry on."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
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


async def open_raw(
    server: ServerProcess, key: str, *, init: bool = True, msgpack: bool = False
) -> ClientConnection:
    url = server.url.replace("http", "ws") + f"/actors/{actor_id(server, key)}/connect"
    protocol = "actorkit.msgpack" if msgpack else "actorkit.json"
    ws = await connect(url, subprotocols=[Subprotocol(protocol)], max_size=None)
    assert ws.subprotocol == protocol
    if init:
        hello = {"t": "init", "params": room_params("raw")}
        await ws.send(msgspec.msgpack.encode(hello) if msgpack else json.dumps(hello))
        welcome = decode(await ws.recv())
        assert welcome["t"] == "init" and welcome["resumed"] is False
    return ws


def decode(frame: str | bytes) -> dict[str, Any]:
    msg = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else json.loads(frame)
    assert isinstance(msg, dict)
    return msg


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    """The next message other than a ping (JSON or msgpack, as the socket speaks)."""
    while True:
        msg = decode(await ws.recv())
        if msg["t"] != "ping":
            return msg


async def still_serving(server: ServerProcess, key: str) -> None:
    """Another connection and the actor are unaffected."""
    async with (
        AsyncClient(server.url) as client,
        client.get_or_create("room", key).connect(room_params("other")) as conn,
    ):
        assert await conn.say("still here") >= 1


async def test_oversized_frame_closes_with_1009(server: ServerProcess) -> None:
    ws = await open_raw(server, "big")
    # Only the header of a text frame one byte over the limit: the server refuses it from
    # the header alone (it never waits for, or buffers, the payload).
    header = struct.pack("!BBQ", 0x81, 0x80 | 127, 65_537) + b"\0\0\0\0"
    ws.transport.write(header)
    with pytest.raises(ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await still_serving(server, "big")


async def test_frame_at_the_limit_is_served(server: ServerProcess) -> None:
    ws = await open_raw(server, "edge")
    head = '{"t":"action","id":1,"name":"say","args":["'
    text = "x" * (65_536 - len(head) - len('"]}'))
    await ws.send(head + text + '"]}')
    assert await recv_json(ws) == {"t": "result", "id": 1, "output": 1}
    await ws.close()


async def test_malformed_and_unknown_frames_get_invalid_request(server: ServerProcess) -> None:
    ws = await open_raw(server, "bad")
    huge = '{"t": "action", "id": 1, "name": "say", "args": [' + "7" * 40 + "]}"  # > 64 bits
    bad = ["not json", "[1, 2]", json.dumps({"t": "bogus"}), json.dumps({"t": "action"}), huge]
    for frame in bad:
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


async def test_wrong_frame_type_gets_invalid_request(server: ServerProcess) -> None:
    # A text frame on a msgpack socket is no msgpack message; the socket stays usable.
    ws = await open_raw(server, "kinds", msgpack=True)
    await ws.send(json.dumps({"t": "action", "id": 1, "name": "say", "args": ["text"]}))
    err = await recv_json(ws)
    assert (err["t"], err["id"], err["code"]) == ("error", None, "invalid_request")
    await ws.send(msgspec.msgpack.encode({"t": "action", "id": 2, "name": "say", "args": ["x"]}))
    assert await recv_json(ws) == {"t": "result", "id": 2, "output": 1}
    await ws.close()
    # A binary frame holding JSON on a JSON socket is read as JSON.
    ws = await open_raw(server, "kinds")
    await ws.send(json.dumps({"t": "action", "id": 3, "name": "say", "args": ["y"]}).encode())
    assert await recv_json(ws) == {"t": "result", "id": 3, "output": 1}
    await ws.close()
    await still_serving(server, "kinds")


@pytest.mark.parametrize("use_msgpack", [False, True], ids=["json", "msgpack"])
async def test_deeply_nested_frames_get_invalid_request(
    server: ServerProcess, use_msgpack: bool
) -> None:
    ws = await open_raw(server, "deep", msgpack=use_msgpack)
    for depth in (1_000, 20_000):
        if use_msgpack:  # fixarray of one element, `depth` times, around an empty array
            args = b"\x91" * depth + b"\x90"
            head = msgspec.msgpack.encode({"t": "action", "id": 1, "name": "say", "args": 0})
            frame: str | bytes = head[:-1] + args
        else:
            frame = '{"t":"action","id":1,"name":"say","args":' + "[" * depth + "]" * depth + "}"
        await ws.send(frame)
        err = await recv_json(ws)
        assert (err["t"], err["id"], err["code"]) == ("error", None, "invalid_request"), depth
    hello = {"t": "action", "id": 2, "name": "say", "args": ["still open"]}
    await ws.send(msgspec.msgpack.encode(hello) if use_msgpack else json.dumps(hello))
    assert await recv_json(ws) == {"t": "result", "id": 2, "output": 1}
    await ws.close()


async def test_event_names_are_bounded(server: ServerProcess) -> None:
    ws = await open_raw(server, "names")
    for name in ["e" * 257, "é" * 129, "e" * 60_000]:  # bytes of UTF-8, not characters
        await ws.send(json.dumps({"t": "sub", "event": name}))
        err = await recv_json(ws)
        assert (err["id"], err["code"], err["metadata"]) == (
            None,
            "validation_error",
            {"limit": 256},
        )
    await ws.send(json.dumps({"t": "unsub", "event": "e" * 257}))
    err = await recv_json(ws)
    assert (err["id"], err["code"]) == (None, "validation_error")
    # 256 bytes is allowed: no error comes before the reply to the next action.
    await ws.send(json.dumps({"t": "sub", "event": "é" * 128}))
    await ws.send(json.dumps({"t": "action", "id": 1, "name": "say", "args": ["hi"]}))
    assert await recv_json(ws) == {"t": "result", "id": 1, "output": 1}
    await ws.close()


async def test_init_subscriptions_obey_the_sub_limits(server: ServerProcess) -> None:
    async with AsyncClient(server.url) as client:
        admin = client.get_or_create("room", "initsubs", params=room_params("admin"))
        before = (await admin.stats())["connects"]
    cases = [
        ([f"e{i}" for i in range(1001)], "overloaded", {"limit": 1000}),
        (["ok", "e" * 257], "validation_error", {"limit": 256}),
    ]
    for subscriptions, code, metadata in cases:
        ws = await open_raw(server, "initsubs", init=False)
        hello = {"t": "init", "params": room_params("many"), "subscriptions": subscriptions}
        await ws.send(json.dumps(hello))
        err = await recv_json(ws)
        assert (err["id"], err["code"], err["metadata"]) == (None, code, metadata)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001
    # The limit itself is allowed (duplicates count once).
    ws = await open_raw(server, "initsubs", init=False)
    events = [f"e{i}" for i in range(1000)]
    hello = {"t": "init", "params": room_params("full"), "subscriptions": [*events, "e0"]}
    await ws.send(json.dumps(hello))
    welcome = await recv_json(ws)
    assert welcome["t"] == "init" and sorted(welcome["subscriptions"]) == sorted(events)
    await ws.close()
    async with AsyncClient(server.url) as client:
        admin = client.get_or_create("room", "initsubs", params=room_params("admin"))
        assert (await admin.stats())["connects"] == [*before, "full"]  # refused ones never ran


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
