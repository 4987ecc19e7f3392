"""Targets that drive a real in-process server: a whole WebSocket session
(``ConnectionSession.feed`` through an in-memory pipe) and the HTTP routes (direct ASGI
calls into the app), both on one node with memory storage and a small actor.

A crash here is an exception escaping the server, an ``internal`` error or a 5xx reply that
is not a documented retryable one, a close with 1011, a frame or body that does not decode,
an error logged by the server, or a case that does not finish (a hang).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import msgspec

from actorkit import Actor, Registry, UserError, action
from actorkit._runtime.sessions import ConnectionSession, QueuePipe
from actorkit.protocol.messages import (
    CLOSE_INTERNAL,
    MSGPACK_SUBPROTOCOL,
    Error,
    codec_for,
)
from fuzz.contract import Crash, fields, pick

__all__ = ["close_harness", "harness", "http_route_target", "ws_session_target"]

CASE_TIMEOUT = 10.0  # seconds: a case that takes longer is a hang
REFRESH_EVERY = 2000  # cases: then a fresh node, so fuzzed keys do not pile up actors
RETRYABLE = frozenset({"overloaded", "actor_stopping"})
SERVER_ERRORS = frozenset(
    {"internal_error", "hook_failed", "storage_error", "state_not_serializable"}
)


class FuzzRoom(Actor):
    """Small, but with every path a frame can reach: state, events, user errors, params."""

    state = {"count": 0, "last": None}

    def on_before_connect(self, params: Any) -> None:
        if isinstance(params, dict) and params.get("deny"):
            raise UserError("denied", code="forbidden")

    @action
    def increment(self, n: int = 1) -> int:
        # Wraps within 62 bits: arguments are 64-bit, and a sum the actor itself makes
        # unstorable (500 state_not_serializable, rolled back) is this actor's bug, not the
        # server's — tests/test_state.py covers that path.
        self.state["count"] = (self.state["count"] + n) % 2**62
        return int(self.state["count"])

    @action
    def echo(self, value: Any = None) -> Any:
        return value

    @action
    def put(self, value: Any) -> None:
        self.state["last"] = value

    @action
    def fail(self, message: str) -> None:
        raise UserError(message, code="refused", metadata={"len": len(message)})

    @action
    def shout(self, event: str, *args: Any) -> int:
        self.broadcast(event, *args)
        if self.conn is not None:
            self.conn.send(event, *args)
        return len(args)

    @action
    def leave(self, reason: str = "bye") -> None:
        if self.conn is not None:
            self.conn.disconnect(reason)


class _Errors(logging.Handler):
    """Collects ERROR records: the server logs what it could not handle."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """One event loop and one ASGI app (with its node) shared by every case."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors = _Errors()
        logging.getLogger("actorkit").addHandler(self.errors)
        self.cases = 0
        self.app: Any = None
        self.actor_id = ""
        self.last: list[Any] = []  # the last case's server frames or HTTP reply (for tests)

    async def _fresh(self) -> None:
        if self.app is not None:
            await self.app.state.ensure_started.stop()
        self.app = Registry(FuzzRoom).asgi("memory://")
        await self.app.state.ensure_started()
        record = await self.app.state.node.resolve("fuzz_room", ("a",), "get_or_create", None, None)
        self.actor_id = record.id

    def run(self, case: Any) -> None:
        async def bounded() -> None:
            if self.cases % REFRESH_EVERY == 0:
                await self._fresh()
            self.cases += 1
            try:
                async with asyncio.timeout(CASE_TIMEOUT):
                    await case()
            except TimeoutError:
                raise Crash(f"hang: the case did not finish in {CASE_TIMEOUT} s") from None

        self.errors.records.clear()
        try:
            self.loop.run_until_complete(bounded())
        finally:
            if self.errors.records:
                logged = logging.Formatter().format(self.errors.records[0])
                raise Crash(f"the server logged an error: {logged}")

    def close(self) -> None:
        if self.app is not None:
            self.loop.run_until_complete(self.app.state.ensure_started.stop())
        self.loop.close()
        logging.getLogger("actorkit").removeHandler(self.errors)


_harness: Harness | None = None


def harness() -> Harness:
    global _harness
    if _harness is None:
        _harness = Harness()
    return _harness


def close_harness() -> None:
    """Stop the shared node and close its loop (a later case starts a fresh one)."""
    global _harness
    if _harness is not None:
        _harness.close()
        _harness = None


# -- WebSocket session -----------------------------------------------------------------------

FRAME_SEP = b"\n\x00\n"
MAX_FRAMES = 16


def _check_frames(codec: Any, out: list[bytes]) -> list[Any]:
    messages = []
    for data in out:
        try:
            msg = codec.decode_server(data)
        except msgspec.DecodeError as exc:
            raise Crash(f"server sent an undecodable frame {data[:200]!r}: {exc}") from None
        messages.append(msg)
        if isinstance(msg, Error) and (msg.group == "internal" or msg.code in SERVER_ERRORS):
            raise Crash(f"server error frame: {msg.code}: {msg.message}")
    return messages


def ws_session_target(data: bytes) -> None:
    """A socket's frames (``FRAME_SEP``-separated; each frame's first byte: bit 0 = text)
    fed to a fresh ``ConnectionSession``; the first input byte picks JSON or msgpack."""
    if not data:
        return
    h = harness()
    codec = codec_for(MSGPACK_SUBPROTOCOL if data[0] & 1 else None)
    frames: list[bytes | str] = []
    for raw in data[1:].split(FRAME_SEP)[:MAX_FRAMES]:
        if raw[:1] and raw[0] & 1:
            frames.append(raw[1:].decode("utf-8", "replace"))
        else:
            frames.append(raw[1:])

    async def case() -> None:
        out: list[bytes] = []
        closes: list[int] = []

        async def send(frame: bytes) -> None:
            out.append(frame)

        async def close(code: int, reason: str) -> None:
            closes.append(code)

        node = h.app.state.node
        pipe = QueuePipe(codec, node.limits.max_conn_buffer_bytes, send, close)
        session = ConnectionSession(node, h.actor_id, pipe)
        writer = pipe.start()
        try:
            for frame in frames:
                await session.feed(frame)
                if pipe.closing is not None:
                    break
            while session._pending:
                await asyncio.gather(*list(session._pending))
        except BaseException:
            writer.cancel()
            raise
        finally:
            session.closed(clean=True)
            for task in session._pending:
                task.cancel()
        await writer
        h.last = _check_frames(codec, out)
        if CLOSE_INTERNAL in closes:
            raise Crash("the session closed the socket with 1011 (internal error)")

    h.run(case)


# -- HTTP routes -----------------------------------------------------------------------------

CONTENT_TYPES = (
    b"application/json",
    b"application/msgpack",
    None,
    b"application/x-msgpack",
    b"text/plain",
    b"application/problem+json",
)
ACCEPTS = (None, b"application/msgpack", b"application/json", b"*/*", b"text/html")
ACTIONS = ("increment", "echo", "put", "fail", "shout", "leave", "nope", "_private")
ROUTES = (
    "action",
    "action",
    "action",
    "resolve",
    "find",
    "get",
    "named_action",
    "action_header",
    "destroy",
)
# Headers a client controls that the server parses (the value field goes into one of them).
HEADERS = (
    b"x-actorkit-params",
    b"x-actorkit-hops",
    b"x-actorkit-chain",
    b"content-length",
    b"content-type",
    b"accept",
)


def _header_value(value: bytes) -> bytes:
    """As an HTTP server would pass it on: no CR, LF or NUL, no surrounding blanks."""
    return value.translate(None, b"\r\n\x00").strip(b" \t")


def http_route_target(data: bytes) -> None:
    """One HTTP request into the ASGI app. Bytes 0-3 pick the route, Content-Type, Accept
    and action (or header); then ``\\0\\0``-separated: a header/path/query value, and body
    chunks."""
    if len(data) < 4:
        return
    h = harness()
    route = pick(ROUTES, data[0])
    content_type = pick(CONTENT_TYPES, data[1])
    accept = pick(ACCEPTS, data[2])
    value, *chunks = fields(data[4:], 4)
    headers: list[tuple[bytes, bytes]] = []
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if accept is not None:
        headers.append((b"accept", accept))
    method, path, query = "POST", "", b""
    text = value.decode("latin-1")

    async def case() -> None:
        nonlocal method, path, query
        aid = h.actor_id
        if route == "action":
            path = f"/actors/{aid}/actions/{pick(ACTIONS, data[3])}"
            if value:
                headers.append((b"x-actorkit-params", value))
        elif route == "action_header":
            path = f"/actors/{aid}/actions/echo"
            name = pick(HEADERS, data[3])
            headers[:] = [(k, v) for k, v in headers if k != name]
            headers.append((name, _header_value(value)))
        elif route == "destroy":
            node = h.app.state.node
            victim = await node.resolve("fuzz_room", ("victim",), "get_or_create", None, None)
            method, path = "DELETE", f"/actors/{victim.id}"
            headers.append((b"x-actorkit-hops", _header_value(value)))
        elif route == "named_action":
            path = f"/actors/{aid}/actions/{quote(text, safe='')}"
        elif route == "resolve":
            method, path = "PUT", "/actors"
        elif route == "find":
            method, path = "GET", "/actors"
            query = b"name=fuzz_room&key=" + quote(text, safe="").encode()
        else:
            method, path = "GET", f"/actors/{quote(text, safe='')}"
        await _asgi_call(h.app, method, path, query, headers, [c for c in chunks if c] or [b""])

    h.run(case)


async def _asgi_call(
    app: Any,
    method: str,
    path: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 6420),
        "state": {},
    }
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    harness().last = [_check_response(sent)]


def _check_response(sent: list[dict[str, Any]]) -> tuple[int, Any]:
    """``(status, decoded reply)``; a ``Crash`` if the reply breaks the contract."""
    if not sent or sent[0]["type"] != "http.response.start":
        raise Crash("no response started")
    status = sent[0]["status"]
    head = dict(sent[0].get("headers", []))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    if 300 <= status < 400:
        return status, None  # Starlette's trailing-slash redirect
    media = head.get(b"content-type", b"").split(b";")[0]
    if media == b"application/msgpack":
        reply = msgspec.msgpack.decode(body)
    elif media == b"application/json":
        reply = msgspec.json.decode(body)
    else:
        raise Crash(f"{status} reply of type {media!r}: {body[:200]!r}")
    code = reply.get("code") if isinstance(reply, dict) else None
    if status >= 500 and code not in RETRYABLE:
        raise Crash(f"{status} {code}: {reply.get('message') if code else reply!r}")
    if status >= 400 and not isinstance(code, str):
        raise Crash(f"{status} reply without an error code: {reply!r}")
    return status, reply
