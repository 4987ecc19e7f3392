"""What one client can make a real server hold: bounded, whatever it sends or leaves unread —
WebSocket frames and replies, and the server-level caps under them (frames and request heads
are refused as they arrive). Memory is read from ``/proc/PID/status`` of real servers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from actorkit import AsyncClient
from server_fixtures import ServerFactory, ServerProcess
from ws_helpers import eventually, room_params

APP = "tests/apps/ws_limits_app.py:registry"
MiB = 1024 * 1024


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


def actor_id(server: ServerProcess, name: str, key: str) -> str:
    r = httpx.put(server.url + "/actors", json={"name": name, "key": [key]})
    return str(r.json()["actor_id"])


# -- a WebSocket client written on a bare TCP socket, to send frames the way an attacker would


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: ServerProcess, path: str) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: actorkit.json\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    @staticmethod
    def header(size: int, opcode: int = 0x1) -> bytes:
        """A final client frame's header with a zero mask (so the payload goes as is)."""
        return struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size) + b"\0\0\0\0"

    async def send_text(self, text: str) -> None:
        data = text.encode()
        self.writer.write(self.header(len(data)) + data)
        await self.writer.drain()

    async def recv(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload)."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(size)

    async def close_code(self) -> int:
        """Read until the server's close: its code, or 1006 if the socket just ended."""
        try:
            while True:
                opcode, payload = await self.recv()
                if opcode == 0x8:
                    return int(struct.unpack("!H", payload[:2])[0])
        except (asyncio.IncompleteReadError, ConnectionError):
            return 1006


async def test_oversize_frames_are_refused_before_they_are_buffered(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    assert server.proc is not None
    path = f"/actors/{actor_id(server, 'room', 'big')}/connect"
    sockets = [await RawSocket.open(server, path) for _ in range(12)]
    for sock in sockets:
        await sock.send_text(json.dumps({"t": "init", "params": room_params("raw")}))
        assert (await sock.recv())[0] == 0x1  # the welcome
    base = memory_kib(server.proc.pid, "VmHWM")
    size = 8 * MiB
    payload = b"x" * (size - 1)
    # All but the last byte of an 8 MiB frame on every socket: a server that buffers frames
    # up to the end holds 12 x 8 MiB now; one that refuses at the header holds none of it.
    for sock in sockets:
        sock.writer.write(RawSocket.header(size) + payload)
    for sock in sockets:
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(sock.writer.drain(), 60)
    async with AsyncClient(server.url) as client:  # the server has handled what arrived
        room = client.get_or_create("room", "big", params=room_params("admin"))
        await eventually(room.stats, lambda s: s["disconnects"] == ["raw"] * 12)
    grown = memory_kib(server.proc.pid, "VmHWM") - base
    assert grown < 12 * size // 1024 // 8, f"peak RSS grew by {grown} KiB"
    codes = [await asyncio.wait_for(sock.close_code(), 60) for sock in sockets]
    # 1009, or (the rest of the frame still arriving at a closed socket) a reset.
    assert set(codes) <= {1009, 1006}, codes
    for sock in sockets:
        sock.writer.close()


async def test_a_client_that_never_reads_its_results_is_dropped(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    assert server.proc is not None
    url = server.url.replace("http", "ws") + f"/actors/{actor_id(server, 'hoard', 'h')}/connect"
    base = memory_kib(server.proc.pid, "VmRSS")
    sockets: list[ClientConnection] = []
    for i in range(8):
        ws = await connect(
            url, subprotocols=[Subprotocol("actorkit.json")], max_size=None, compression=None
        )
        await ws.send(json.dumps({"t": "init", "params": room_params(f"raw{i}")}))
        assert json.loads(await ws.recv())["t"] == "init"
        ws.transport.pause_reading()  # from here on the client reads nothing
        for n in range(64):  # as many as may be pending: ~64 MB of replies
            action: dict[str, Any] = {"t": "action", "id": n, "name": "blob", "args": [MiB - 64]}
            await ws.send(json.dumps(action))
        sockets.append(ws)
    async with AsyncClient(server.url) as client:
        hoard = client.get_or_create("hoard", "h", params=room_params("admin"))
        # Closed for falling behind, the connections are given up after the reconnect grace.
        stats = await eventually(hoard.stats, lambda s: len(s["disconnects"]) == 8)
        assert sorted(stats["disconnects"]) == [f"raw{i}" for i in range(8)]
        grown = memory_kib(server.proc.pid, "VmRSS") - base
        assert grown < 8 * 4 * 1024, f"server RSS grew by {grown} KiB"
    for ws in sockets:
        ws.transport.resume_reading()
        assert await asyncio.wait_for(_drain_until_closed(ws), 60) in (4008, 1006)


async def _drain_until_closed(ws: ClientConnection) -> int:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else 1006


async def test_actorkit_dev_refuses_oversize_frames_from_the_header(tmp_path: Path) -> None:
    server = ServerProcess(
        APP, f"sqlite:///{tmp_path / 'data'}", command="dev", args=["--no-reload"]
    )
    server.start()
    try:
        sock = await RawSocket.open(server, f"/actors/{actor_id(server, 'room', 'dev')}/connect")
        await sock.send_text(json.dumps({"t": "init", "params": room_params("raw")}))
        assert (await sock.recv())[0] == 0x1
        sock.writer.write(RawSocket.header(65_537))  # the header alone
        assert await asyncio.wait_for(sock.close_code(), 60) == 1009
        sock.writer.close()
    finally:
        server.stop()


async def test_oversize_request_heads_are_refused_as_they_arrive(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    assert server.proc is not None

    async def request(headers: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
        )
        reply = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        return reply

    assert (await request(b"X-Pad: " + b"a" * 60_000 + b"\r\n")).startswith(b"HTTP/1.1 200")
    reply = await request(b"X-Pad: " + b"a" * 70_000 + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 431"), reply[:100]
    error = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert (error["code"], error["metadata"]) == ("message_too_large", {"limit": 65536})
    # Header lines without end on 8 connections: refused, not kept.
    base = memory_kib(server.proc.pid, "VmHWM")
    line = b"X-Pad: " + b"a" * 50_000 + b"\r\n"
    writers = []
    for _ in range(8):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(160):  # 8 MB
                writer.write(line)
                await asyncio.wait_for(writer.drain(), 60)
        writers.append((reader, writer))
    for reader, writer in writers:
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 60)  # the server ended the connection
        writer.close()
    grown = memory_kib(server.proc.pid, "VmHWM") - base
    assert grown < 8 * 1024, f"peak RSS grew by {grown} KiB"


async def test_a_websocket_upgrade_with_lines_too_long_for_it_gets_431(
    server_factory: ServerFactory,
) -> None:
    """The websockets library reads an upgrade again with its own line limit (8 KiB); past
    it the socket used to hang with no answer."""
    server = server_factory(APP)

    async def upgrade(query_bytes: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = (
            f"GET /actors/none/connect?pad={'a' * query_bytes} HTTP/1.1\r\nHost: x\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        writer.write(head.encode())
        reply = await asyncio.wait_for(reader.read(200), 60)
        writer.close()
        return reply

    assert (await upgrade(7_000)).startswith(b"HTTP/1.1 101")  # within the limit: upgraded
    reply = await upgrade(9_000)
    assert reply.startswith(b"HTTP/1.1 431"), reply
