"""``ActorConnection``: a live connection to one actor — actions, events, reconnect.

Example::

    async with client.get_or_create(ChatRoom, "lobby").connect(params={"user": "ann"}) as conn:
        unsubscribe = conn.on("message", print)
        await conn.send("hello")
        async for msg in conn.events("message"):
            ...

The connection runs over a ``Link`` (a WebSocket, or an in-process pipe for
``registry.test_client()``). When the link breaks it reconnects by itself with backoff
(250 ms growing to 30 s) and *resumes*: same connection id, connection state and
subscriptions. Every action carries an idempotency key, so actions in flight when the link
broke are sent again once it is back (the server runs each at most once and answers a
repeat with the first outcome); if it is not back within ``RESEND_WINDOW`` they fail with
``connection_lost``.

Actions called before the connection is open wait for it, bounded: a connection not opened
yet opens on its first action; one that is connecting waits up to ``OPEN_TIMEOUT``, one that
is reconnecting up to ``RESEND_WINDOW``; then ``connection_lost``. A refusal (say
``forbidden``) fails them with the refusal. Subscriptions made meanwhile take effect with
the connection. Nothing hangs.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import msgspec

from actorkit.errors import ActorError, Code
from actorkit.protocol.messages import (
    CLOSE_NORMAL,
    CLOSE_TOO_LARGE,
    TERMINAL_CLOSE_CODES,
    ActionRequest,
    ActionResponse,
    Codec,
    Error,
    Event,
    Init,
    Ping,
    Pong,
    Subscribe,
    Unsubscribe,
    Welcome,
)

if TYPE_CHECKING:
    from actorkit.client.base import ActorHandle

__all__ = ["ActorConnection", "ConnectionStatus", "EventStream", "Link", "LinkClosed"]

A = TypeVar("A")

log = logging.getLogger("actorkit.client")

BACKOFF_INITIAL = 0.25
BACKOFF_MAX = 30.0
OPEN_TIMEOUT = 30.0  # seconds for the server's init reply; and for calls made while connecting
RESEND_WINDOW = 5.0  # seconds in-flight actions wait for a reconnect before connection_lost


class ConnectionStatus(enum.StrEnum):
    """Where a connection is. ``closed`` is final."""

    IDLE = "idle"  # created, not opened yet
    CONNECTING = "connecting"  # first connect in progress
    CONNECTED = "connected"  # serving actions and events
    RECONNECTING = "reconnecting"  # the link broke; retrying with backoff, then resuming
    CLOSED = "closed"  # closed by us, or refused/closed by the actor for good


class LinkClosed(Exception):
    """The link is closed; ``code`` is the WebSocket close code."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"link closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class Link(Protocol):
    """One socket to an actor's connect endpoint, carrying encoded protocol frames."""

    codec: Codec

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes | str:
        """The next frame; raises ``LinkClosed`` when the socket is closed."""
        ...

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None: ...


LinkOpener = Callable[[str], Awaitable[Link]]


def connection_lost(message: str = "the connection was lost") -> ActorError:
    return ActorError("connection", Code.CONNECTION_LOST, message)


class ActorConnection(Generic[A]):
    """A connection to an actor. Open it with ``async with handle.connect(params=...)``."""

    def __init__(self, handle: ActorHandle[A], params: Any, open_link: LinkOpener) -> None:
        self._handle = handle
        self.params = params
        self._open_link = open_link
        self.status = ConnectionStatus.IDLE
        self._status_changed = asyncio.Event()  # set (and replaced) on every status change
        self._close_error: ActorError | None = None  # why it closed, for calls that waited
        self.id: str | None = None  # the connection id, once connected
        self.actor_id: str | None = None
        self._token: str | None = None
        self._link: Link | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._requests: dict[int, ActionRequest] = {}  # of pending actions: sent again
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._callbacks: dict[str, list[Callable[..., Any]]] = {
            "open": [],
            "close": [],
            "error": [],
        }
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._ping_interval = 15.0
        self._last_seen = 0.0
        self._writing = False  # a frame is being sent (keeps frames in order)
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<ActorConnection {self._handle.name} id={self.id} {self.status.value}>"

    # -- opening and closing ----------------------------------------------------------------

    async def __aenter__(self) -> ActorConnection[A]:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect now (or wait for a connect already under way). Raises ``ActorError`` if
        the actor refuses the connection."""
        if self.status is ConnectionStatus.CLOSED:
            raise RuntimeError("connection is closed")
        if self.status is not ConnectionStatus.IDLE:
            await self._until_connected()
            return
        self._set_status(ConnectionStatus.CONNECTING)
        try:
            self.actor_id = await self._handle.resolve()
            await self._establish()
        except BaseException as exc:
            error = (
                exc if isinstance(exc, ActorError) else connection_lost(f"cannot connect: {exc!r}")
            )
            self._close_error = error
            self._set_status(ConnectionStatus.CLOSED)
            self._closed.set()
            if isinstance(exc, OSError | TimeoutError):  # e.g. refused: the server is down
                raise error from exc
            raise
        self._handle._client._connections.add(self)
        self._supervisor = asyncio.ensure_future(self._supervise())

    async def aclose(self) -> None:
        """Close the connection; the actor runs ``on_disconnect`` at once."""
        if self.status is ConnectionStatus.CLOSED:
            return
        self._set_closed()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            await self._drain_outbox(link)
            await link.close(CLOSE_NORMAL, "client closed")
        self._fail_pending(connection_lost("the connection was closed"))
        for task in list(self._tasks):
            task.cancel()

    def _set_closed(self, why: ActorError | None = None) -> None:
        if self._close_error is None:
            self._close_error = why or connection_lost("the connection was closed")
        self._set_status(ConnectionStatus.CLOSED)
        self._closed.set()
        self._handle._client._connections.discard(self)

    def _set_status(self, status: ConnectionStatus) -> None:
        self.status = status
        changed, self._status_changed = self._status_changed, asyncio.Event()
        changed.set()

    async def _until_connected(self) -> Link:
        """The open link, once there is one: opens an idle connection, waits (bounded) for
        one that is connecting or reconnecting, raises why a closed one closed."""
        if self.status is ConnectionStatus.IDLE:
            await self.open()
        bound = OPEN_TIMEOUT if self.status is ConnectionStatus.CONNECTING else RESEND_WINDOW
        try:
            async with asyncio.timeout(bound):
                while True:
                    link = self._link
                    if self.status is ConnectionStatus.CONNECTED and link is not None:
                        return link
                    if self.status is ConnectionStatus.CLOSED:
                        why = self._close_error or connection_lost("the connection is closed")
                        raise ActorError(why.group, why.code, why.message, why.metadata)
                    await self._status_changed.wait()
        except TimeoutError:
            raise connection_lost(
                f"the connection is {self.status.value}: not open within {bound:g} s"
            ) from None

    async def _drain_outbox(self, link: Link) -> None:
        outbox = self._outbox
        while outbox is not None and not outbox.empty():
            try:
                await link.send(outbox.get_nowait())
            except LinkClosed:
                return

    # -- the link -----------------------------------------------------------------------------

    async def _establish(self) -> None:
        """Open a link and say init (resuming if we have a connection to resume)."""
        assert self.actor_id is not None
        link = await self._open_link(self.actor_id)
        codec = link.codec
        subscribed = sorted(self._listeners)
        try:
            init = Init(msgspec.to_builtins(self.params), self.id, self._token, subscribed)
            await link.send(codec.encode(init))
            async with asyncio.timeout(OPEN_TIMEOUT):
                reply = codec.decode_server(await link.recv())
        except BaseException as exc:
            await link.close(CLOSE_NORMAL, "init failed")
            if isinstance(exc, LinkClosed):
                raise connection_lost(f"the server closed the socket: {exc}") from None
            if isinstance(exc, msgspec.DecodeError | msgspec.ValidationError | TimeoutError):
                raise connection_lost(f"no valid init reply: {exc!r}") from None
            raise
        if isinstance(reply, Error):
            await link.close(CLOSE_NORMAL, "rejected")
            raise ActorError(reply.group, reply.code, reply.message, reply.metadata)
        if not isinstance(reply, Welcome):
            await link.close(CLOSE_NORMAL, "protocol error")
            raise connection_lost(f"expected init, got {type(reply).__name__}")
        if self.id is not None and reply.conn_id != self.id:
            log.info("connection %s could not be resumed; now %s", self.id, reply.conn_id)
        self.id, self._token = reply.conn_id, reply.token
        self._ping_interval = reply.ping_interval
        self._link = link
        self._outbox = asyncio.Queue()
        # on()/unsubscribe while the init was on its way sent nothing: catch up, ahead of
        # any action (the outbox keeps the order).
        for event in self._listeners.keys() - set(subscribed):
            self._send(codec.encode(Subscribe(event)))
        for event in set(subscribed) - self._listeners.keys():
            self._send(codec.encode(Unsubscribe(event)))
        self._set_status(ConnectionStatus.CONNECTED)
        self._emit("open")

    async def _supervise(self) -> None:
        """Read until the link breaks; then reconnect with backoff, unless told not to."""
        attempt = 0
        while True:
            link = self._link
            assert link is not None
            code, reason = await self._serve(link)
            self._link = None
            lost = connection_lost(f"the connection was lost ({code} {reason})".strip())
            if code == CLOSE_TOO_LARGE:
                self._fail_pending(
                    ActorError("request", Code.MESSAGE_TOO_LARGE, "a message exceeded the limit")
                )
            self._emit("close", code, reason)
            if code in TERMINAL_CLOSE_CODES:
                self._fail_pending(lost)
                self._set_closed(lost)
                return
            self._set_status(ConnectionStatus.RECONNECTING)
            # Pending actions are sent again after the reconnect (with their keys), unless
            # it takes longer than RESEND_WINDOW.
            expire = asyncio.get_running_loop().call_later(RESEND_WINDOW, self._fail_pending, lost)
            attempt = 0
            while True:
                delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2**attempt)
                await asyncio.sleep(delay * random.uniform(0.75, 1.0))
                attempt += 1
                try:
                    await self._establish()
                    break
                except ActorError as err:
                    if err.code == Code.CONNECTION_LOST:
                        continue
                    expire.cancel()
                    self._fail_pending(lost)
                    self._emit("error", err)  # refused for good (auth, destroyed, ...)
                    self._set_closed(err)
                    return
                except (OSError, TimeoutError) as exc:
                    log.debug("reconnect attempt %d failed: %r", attempt, exc)
            expire.cancel()
            self._resend()

    async def _serve(self, link: Link) -> tuple[int, str]:
        writer = asyncio.ensure_future(self._write(link))
        receiver = asyncio.ensure_future(self._receive(link))
        try:
            # Liveness: the server pings a silent client, so silence means the link is dead.
            limit = self._ping_interval * 2 + 5
            while True:
                done, _ = await asyncio.wait({receiver}, timeout=limit / 4)
                if done:
                    return receiver.result()
                if asyncio.get_running_loop().time() - self._last_seen > limit:
                    await link.close(CLOSE_NORMAL, "liveness timeout")
                    return 1006, "no message from the server within the liveness timeout"
        finally:
            receiver.cancel()
            writer.cancel()
            await asyncio.gather(receiver, writer, return_exceptions=True)

    async def _receive(self, link: Link) -> tuple[int, str]:
        loop = asyncio.get_running_loop()
        self._last_seen = loop.time()
        while True:
            try:
                frame = await link.recv()
            except LinkClosed as closed:
                return closed.code, closed.reason
            except OSError as exc:
                return 1006, str(exc)
            self._last_seen = loop.time()
            try:
                msg = link.codec.decode_server(frame)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("ignoring a malformed message from the server: %s", exc)
                continue
            self._dispatch(msg, link)

    async def _write(self, link: Link) -> None:
        outbox = self._outbox
        assert outbox is not None
        while True:
            data = await outbox.get()
            self._writing = True
            try:
                await link.send(data)
            except (LinkClosed, OSError):
                return
            finally:
                self._writing = False

    def _dispatch(self, msg: Any, link: Link) -> None:
        if isinstance(msg, Event):
            for callback in list(self._listeners.get(msg.name, ())):
                self._run_callback(callback, *msg.args)
        elif isinstance(msg, ActionResponse):
            future = self._pending.pop(msg.id, None)
            if future is not None and not future.done():
                future.set_result(msg.output)
        elif isinstance(msg, Error):
            err = ActorError(msg.group, msg.code, msg.message, msg.metadata)
            future = self._pending.pop(msg.id, None) if msg.id is not None else None
            if future is not None:
                if not future.done():
                    future.set_exception(err)
            else:
                self._emit("error", err)
        elif isinstance(msg, Ping):
            self._send(link.codec.encode(Pong(msg.ts)))

    def _send(self, data: bytes) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(data)

    def _resend(self) -> None:
        """Send the pending actions again on the new link (same ids, same keys)."""
        link = self._link
        if link is None:
            return
        for action_id in sorted(self._pending):
            request = self._requests.get(action_id)
            if request is not None:
                self._send(link.codec.encode(request))

    def _fail_pending(self, err: ActorError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(err)

    # -- actions ------------------------------------------------------------------------------

    async def action(
        self, name: str, /, *args: Any, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        """Call action ``name`` with ``args`` and keyword ``kwargs`` over this connection
        (``self.conn`` is set in the actor).

        ``idempotency_key`` (default: a new random one): a repeat of the call with the same
        key returns the first outcome without running the action again.
        """
        link = self._link
        if self.status is not ConnectionStatus.CONNECTED or link is None:
            link = await self._until_connected()
        self._next_id += 1
        action_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            request = ActionRequest(
                action_id,
                name,
                msgspec.to_builtins(args),
                idempotency_key or uuid.uuid4().hex,
                msgspec.to_builtins(kwargs) if kwargs else None,
            )
            data = link.codec.encode(request)
        except (TypeError, ValueError) as exc:
            raise ActorError(
                "request", Code.VALIDATION_ERROR, f"arguments cannot be serialized: {exc}"
            ) from None
        self._pending[action_id] = future
        self._requests[action_id] = request
        if self._outbox is not None and self._outbox.empty() and not self._writing:
            # Nothing queued before us: send from this task (one hop fewer); order holds.
            self._writing = True
            try:
                await link.send(data)
            except (LinkClosed, OSError):
                pass  # the reader notices the broken link and fails `future`
            finally:
                self._writing = False
        else:
            self._send(data)
        try:
            output = await future
        finally:
            self._requests.pop(action_id, None)
        cls = self._handle._cls
        if cls is not None:
            from actorkit.client.base import _return_type

            ret = _return_type(cls, name)  # type: ignore[arg-type]
            if ret is not None:
                return msgspec.convert(output, ret)
        return output

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.action, name)

    # -- events ---------------------------------------------------------------------------------

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Call ``callback(*args)`` for each ``event``; returns a function that unsubscribes.

        ``callback`` may be a coroutine function. Subscriptions survive reconnects.
        """
        listeners = self._listeners.setdefault(event, [])
        listeners.append(callback)
        if len(listeners) == 1 and self._link is not None:
            self._send(self._link.codec.encode(Subscribe(event)))

        def unsubscribe() -> None:
            current = self._listeners.get(event)
            if current is None or callback not in current:
                return
            current.remove(callback)
            if not current:
                del self._listeners[event]
                if self._link is not None:
                    self._send(self._link.codec.encode(Unsubscribe(event)))

        return unsubscribe

    def once(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Like ``on``, for the next ``event`` only."""

        def wrapper(*args: Any) -> Any:
            unsubscribe()
            return callback(*args)

        unsubscribe = self.on(event, wrapper)
        return unsubscribe

    def events(self, event: str) -> EventStream:
        """Iterate over ``event`` as it arrives: its argument, or a tuple of several.

        Subscribes at once (not at the first ``anext``); ends when the connection closes.
        Close it (``await stream.aclose()``) or leave the ``async for`` to unsubscribe.
        """
        return EventStream(self, event)

    # -- lifecycle callbacks ---------------------------------------------------------------------

    def on_open(self, callback: Callable[[], Any]) -> Callable[[], None]:
        """Call ``callback()`` on each (re)connect. Returns a function that removes it."""
        return self._register("open", callback)

    def on_close(self, callback: Callable[[int, str], Any]) -> Callable[[], None]:
        """Call ``callback(code, reason)`` whenever the socket closes (even to reconnect)."""
        return self._register("close", callback)

    def on_error(self, callback: Callable[[ActorError], Any]) -> Callable[[], None]:
        """Call ``callback(error)`` for errors not tied to an action (and final refusals)."""
        return self._register("error", callback)

    def _register(self, kind: str, callback: Callable[..., Any]) -> Callable[[], None]:
        callbacks = self._callbacks[kind]
        callbacks.append(callback)

        def remove() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return remove

    def _emit(self, kind: str, *args: Any) -> None:
        for callback in list(self._callbacks[kind]):
            self._run_callback(callback, *args)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception:
            log.exception("event callback %r raised", callback)


class EventStream:
    """``conn.events(name)``: an async iterator of one event's values."""

    def __init__(self, conn: ActorConnection[Any], event: str) -> None:
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._closed = conn._closed
        self._unsubscribe = conn.on(event, lambda *args: self._queue.put_nowait(args))

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Any:
        if self._queue.empty():
            getter = asyncio.ensure_future(self._queue.get())
            closed = asyncio.ensure_future(self._closed.wait())
            await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            if not getter.done():
                getter.cancel()
                await self.aclose()
                raise StopAsyncIteration
            args = getter.result()
        else:
            args = self._queue.get_nowait()
        return args[0] if len(args) == 1 else args

    async def aclose(self) -> None:
        self._unsubscribe()
