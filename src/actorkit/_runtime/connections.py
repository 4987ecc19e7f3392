"""Connections as the actor sees them: ``self.conn``, ``self.conns``, events, resume.

Invariants:
- A connection is in ``ActorInstance.conns`` from the end of a successful connect flow
  (``on_before_connect → create_conn_state → on_connect``, one atomic turn) until
  ``on_disconnect`` has run. A rejected connect never reaches ``on_connect`` and leaves no
  trace (the turn is rolled back).
- A connection whose socket broke is *detached*, not gone: it keeps its id, state and
  subscriptions and buffers its events (bounded) for ``reconnect_grace`` seconds, so a client
  can resume it. Its record (id, token, params, state) is persisted under ``conn/<id>`` and
  each subscribed event under ``connsub/<id>/<event>``, so a restarted server resumes it too.
- A subscription change writes one key (never the whole record), and a connection holds at
  most ``Limits.max_subscriptions`` events: what one connection costs stays bounded.
- Events obey the output gate: an event sent inside a turn is released only once the writes
  of that turn are durable, and is dropped if the turn rolls back.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from actorkit._runtime import context
from actorkit._runtime.connection import (
    CONN_PREFIX,
    SUB_PREFIX,
    Connection,
    ConnRecord,
    Pipe,
    record_decoder,
    record_encoder,
    sub_key,
    too_many_subscriptions,
)
from actorkit.errors import ActorError, Code, too_large
from actorkit.protocol.messages import CLOSE_DISCONNECTED, CLOSE_REPLACED, Event
from actorkit.storage.base import WriteBatch

if TYPE_CHECKING:
    from actorkit._runtime.instance import ActorInstance

__all__ = [
    "CONN_PREFIX",
    "SUB_PREFIX",
    "ConnRecord",
    "Connection",
    "ConnectionManager",
    "Pipe",
    "too_many_subscriptions",
]

T = TypeVar("T")


class ConnectionManager:
    """The connections of one ``ActorInstance`` (its ``conns`` dict) and their events."""

    def __init__(self, inst: ActorInstance) -> None:
        self.inst = inst
        self.conns: dict[str, Connection] = inst.conns
        self.dirty: set[str] = set()  # ids of connections whose record may have changed
        self._held: list[tuple[Event, list[Connection] | None]] = []
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def grace(self) -> float:
        return self.inst.definition.options.reconnect_grace

    @property
    def buffer_limit(self) -> int:
        return self.inst.node.limits.max_conn_buffer_bytes

    # -- connect, resume, detach, drop ------------------------------------------------------

    def restore(self, data: dict[bytes, bytes]) -> None:
        """On wake: connections persisted by an earlier instance wait (detached) for a resume."""
        subs: dict[str, set[str]] = {}
        for key in data:
            if key.startswith(SUB_PREFIX):
                conn_id, _, event = key[len(SUB_PREFIX) :].partition(b"/")
                subs.setdefault(conn_id.decode(), set()).add(event.decode("utf-8", "surrogatepass"))
        for key, value in data.items():
            if not key.startswith(CONN_PREFIX):
                continue
            try:
                rec = record_decoder.decode(value)
            except msgspec.DecodeError:
                self.inst.log.warning("dropping unreadable connection record %r", key)
                continue
            conn = Connection(
                self,
                rec.id,
                rec.token,
                rec.params,
                rec.state,
                subs.pop(rec.id, set()) | set(rec.subscriptions),
                rec.created_at,
            )
            conn._persisted = value
            self.conns[conn.id] = conn
            if rec.subscriptions:  # an older record: give its subscriptions their keys
                conn._persisted = conn._record()
                puts: dict[bytes, bytes | None] = {key: conn._persisted}
                puts.update((sub_key(conn.id, e), b"") for e in rec.subscriptions)
                self._write(puts)
            self._start_timer(conn)
        orphans: dict[bytes, bytes | None] = {
            sub_key(c, e): None for c, events in subs.items() for e in events
        }
        if orphans:  # subscriptions whose connection record is gone (a drop removes both)
            self._write(orphans)

    async def connect(self, params: Any, subscriptions: list[str] | None) -> Connection:
        """Run the connect flow in one turn; raises the hook's error to reject.

        The caller sends its welcome, then ``attach``es a socket.
        """
        inst = self.inst
        hooks = inst.definition.hooks
        limit = inst.definition.options.max_connections
        conn = Connection(
            self,
            uuid.uuid4().hex,
            secrets.token_urlsafe(24),
            params,
            None,
            set(subscriptions or ()),
            time.time(),
        )

        async def flow() -> None:
            if limit is not None and len(self.conns) >= limit:  # checked in the turn: no race
                raise ActorError(
                    "connection",
                    Code.OVERLOADED,
                    f"actor has reached max_connections ({limit})",
                    {"max_connections": limit},
                )
            if "on_before_connect" in hooks:
                await inst._hook("on_before_connect", params)
            if "create_conn_state" in hooks:
                conn._state = await inst._hook("create_conn_state", params)
            self.conns[conn.id] = conn
            self.dirty.add(conn.id)
            for event in conn.subscriptions:
                inst.stage(sub_key(conn.id, event), b"")
            if "on_connect" in hooks:
                with as_current(inst.id, conn):
                    await inst._hook("on_connect", conn)

        try:
            await inst.turn(flow)
        except BaseException:
            if self.conns.get(conn.id) is conn:
                del self.conns[conn.id]
            self.dirty.discard(conn.id)
            raise
        inst.emit("connect", conn_id=conn.id, params=params)
        return conn

    def find(self, conn_id: str | None, token: str | None) -> Connection | None:
        """The connection a client asks to resume, if it exists and the token matches."""
        if not conn_id or not token:
            return None
        conn = self.conns.get(conn_id)
        if conn is None or not hmac.compare_digest(conn._token, token):
            return None
        return conn

    async def resume(
        self, conn: Connection, params: Any, pipe: Pipe, subscriptions: list[str] | None
    ) -> None:
        """Attach a new socket to ``conn``. ``on_before_connect`` checks the new params."""
        self._cancel_timer(conn.id)
        if "on_before_connect" in self.inst.definition.hooks:
            try:
                await self.inst._hook("on_before_connect", params)
            except BaseException:
                if conn._pipe is None and self.conns.get(conn.id) is conn:
                    self._start_timer(conn)
                raise
        if self.conns.get(conn.id) is not conn:
            raise ActorError("connection", Code.CONNECTION_LOST, "connection was closed")
        self._cancel_timer(conn.id)
        if conn._pipe is not None and conn._pipe is not pipe:
            conn._pipe.close(CLOSE_REPLACED, "resumed on another socket")
            conn._pipe = None
        conn.params = params
        changes: dict[bytes, bytes | None] = {}
        if subscriptions is not None:
            wanted = set(subscriptions)
            changes.update((sub_key(conn.id, e), b"") for e in wanted - conn.subscriptions)
            changes.update((sub_key(conn.id, e), None) for e in conn.subscriptions - wanted)
            conn.subscriptions = wanted
        self.persist_soon(conn, changes)

    def attach(self, conn: Connection, pipe: Pipe) -> None:
        """Route ``conn``'s events to ``pipe``, starting with those buffered while detached."""
        self._cancel_timer(conn.id)
        conn._pipe = pipe
        backlog, conn._backlog, conn._backlog_bytes = conn._backlog, [], 0
        for event in backlog:
            conn._push(event, {})

    def detach(self, conn: Connection, pipe: Pipe, *, clean: bool) -> None:
        """The socket ``pipe`` went away. Clean close: drop now; otherwise wait for a resume."""
        if conn._pipe is not pipe:
            return  # already replaced by a resumed socket
        conn._pipe = None
        if self.conns.get(conn.id) is not conn:
            return
        if clean:
            self.drop_soon(conn)
        else:
            self._start_timer(conn)

    def close_all(self, code: int, reason: str) -> None:
        """Close every attached socket with ``code`` (records stay for a resume)."""
        for conn in list(self.conns.values()):
            self._cancel_timer(conn.id)
            if conn._pipe is not None:
                conn._pipe.close(code, reason)
                conn._pipe = None

    def drop_soon(self, conn: Connection) -> None:
        self._spawn(self.drop(conn))

    def disconnect_soon(self, conn: Connection, reason: str) -> None:
        if conn._pipe is not None:
            conn._pipe.close(CLOSE_DISCONNECTED, reason)
            conn._pipe = None
        self.drop_soon(conn)

    async def drop(self, conn: Connection) -> None:
        """The client is gone for good: run ``on_disconnect`` and forget the connection."""
        self._cancel_timer(conn.id)
        if self.conns.get(conn.id) is not conn:
            return
        inst = self.inst
        if not inst.serving:
            return  # stopping: the record stays and the next wake decides
        del self.conns[conn.id]
        self.dirty.discard(conn.id)
        inst.emit("disconnect", conn_id=conn.id)

        async def flow() -> None:
            if "on_disconnect" in inst.definition.hooks:
                with as_current(inst.id, conn):
                    await inst._hook("on_disconnect", conn)
            for key in self._keys(conn):
                inst.stage(key, None)

        try:
            await inst.turn(flow)
        except Exception as exc:  # the hook failed, or the actor began to stop meanwhile
            inst.log.warning("on_disconnect of %s did not complete: %r", conn.id, exc)
            if inst.serving:
                self._write(dict.fromkeys(self._keys(conn)))

    @staticmethod
    def _keys(conn: Connection) -> list[bytes]:
        """Every key ``conn`` is stored under."""
        keys = [sub_key(conn.id, event) for event in conn.subscriptions]
        keys.append(CONN_PREFIX + conn.id.encode())
        return keys

    def _start_timer(self, conn: Connection) -> None:
        self._cancel_timer(conn.id)

        async def expire() -> None:
            await self.inst.node.clock.sleep(self.grace)
            self._timers.pop(conn.id, None)
            await self.drop(conn)

        self._timers[conn.id] = self._spawn(expire())

    def _cancel_timer(self, conn_id: str) -> None:
        timer = self._timers.pop(conn_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def _spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]:
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- subscriptions and persistence --------------------------------------------------------

    def subscribe(self, conn: Connection, event: str, on: bool) -> None:
        """Add or remove one subscription: one key written, whatever the connection holds."""
        if (event in conn.subscriptions) == on:
            return
        if on:
            limit = self.inst.node.limits.max_subscriptions
            if len(conn.subscriptions) >= limit:
                raise too_many_subscriptions(limit)
            conn.subscriptions.add(event)
        else:
            conn.subscriptions.discard(event)
        self._save(conn, {sub_key(conn.id, event): b"" if on else None})

    def persist_soon(self, conn: Connection, changes: dict[bytes, bytes | None]) -> None:
        """Write ``conn``'s record (if it changed) and ``changes`` now, outside any turn."""
        data = conn._record()
        puts = dict(changes)
        if data != conn._persisted:
            puts[CONN_PREFIX + conn.id.encode()] = data
        if self._save(conn, puts):
            conn._persisted = data

    def _save(self, conn: Connection, puts: dict[bytes, bytes | None]) -> bool:
        """Write ``puts`` of a connection the awake actor still has; False if not written."""
        if not puts or not self.inst.serving or self.conns.get(conn.id) is not conn:
            return False
        self._write(puts)
        return True

    def _write(self, puts: dict[bytes, bytes | None]) -> None:
        inst = self.inst
        batch = WriteBatch(inst.id, inst.epoch)
        for key, value in puts.items():
            if value is None:
                batch.deletes.add(key)
            else:
                batch.puts[key] = value
        inst._last_write = inst._submit_nowait(batch)

    def stage_changes(self) -> None:
        """Stage the records of connections whose state may have changed (turn's batch)."""
        if not self.dirty:
            return
        dirty, self.dirty = self.dirty, set()
        for conn_id in dirty:
            conn = self.conns.get(conn_id)
            if conn is None:
                continue
            try:
                data = conn._record()
            except (TypeError, ValueError, OverflowError) as exc:
                raise ActorError(
                    "actor",
                    Code.STATE_NOT_SERIALIZABLE,
                    f"connection state cannot be serialized: {exc}",
                ) from None
            if data != conn._persisted:
                conn._persisted = data
                self.inst.stage(CONN_PREFIX + conn_id.encode(), data)

    # -- events and the output gate -------------------------------------------------------------

    def broadcast(self, event: str, args: tuple[Any, ...]) -> None:
        self.emit(event, args, None)

    def emit(self, event: str, args: tuple[Any, ...], targets: list[Connection] | None) -> None:
        """Send ``event`` to ``targets`` (None: every subscriber), through the output gate."""
        if not isinstance(event, str):
            raise TypeError("event name must be a string")
        try:
            msg = Event(event, msgspec.to_builtins(list(args)))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ActorError(
                "actor", Code.VALIDATION_ERROR, f"event arguments cannot be serialized: {exc}"
            ) from None
        limit = self.inst.node.limits.max_outgoing_message_bytes
        size = len(record_encoder.encode(msg))
        if size > limit:
            raise too_large(f"event {event!r} is {size} bytes; the limit is {limit}", limit)
        inst = self.inst
        if inst._active_turn is not None and inst._active_turn in context.call_chain.get():
            self._held.append((msg, targets))  # released when this turn's writes are durable
        else:
            self._release_after([(msg, targets)], inst._last_write)

    def on_turn_end(self) -> None:
        """Called as a turn ends: its events go out once its writes are durable."""
        if self._held:
            held, self._held = self._held, []
            self._release_after(held, self.inst._last_write)

    def mark(self) -> int:
        """Where a snapshot starts in the held events (see ``on_rollback``)."""
        return len(self._held)

    def on_rollback(self, mark: int = 0) -> None:
        """A rolled-back call sends none of the events it emitted (those after ``mark``)."""
        del self._held[mark:]

    def _release_after(
        self, items: list[tuple[Event, list[Connection] | None]], write: Any
    ) -> None:
        if write is None or write.done():
            if write is None or write.cancelled() or write.exception() is None:
                self._deliver(items)
            return

        def done(future: asyncio.Future[None]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._deliver(items)

        write.add_done_callback(done)

    def _deliver(self, items: list[tuple[Event, list[Connection] | None]]) -> None:
        for msg, targets in items:
            cache: dict[str, bytes] = {}
            for conn in self._targets(msg.name, targets):
                conn._push(msg, cache)

    def _targets(self, event: str, targets: list[Connection] | None) -> Iterator[Connection]:
        if targets is not None:
            yield from (c for c in targets if self.conns.get(c.id) is c)
            return
        for conn in list(self.conns.values()):
            if event in conn.subscriptions:
                yield conn


class as_current:
    """Make ``conn`` the current connection (``self.conn``) inside a hook."""

    def __init__(self, actor_id: str, conn: Connection) -> None:
        self._value = (actor_id, conn)

    def __enter__(self) -> None:
        self._token = context.current_conn.set(self._value)

    def __exit__(self, *exc: object) -> None:
        context.current_conn.reset(self._token)
