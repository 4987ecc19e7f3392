"""``ConnectionSession``: the server side of the connection protocol, for any socket.

A transport (the WebSocket route, or the in-process link of ``registry.test_client()``)
feeds each incoming frame to ``feed`` in order and calls ``closed`` once; the session
answers through a ``QueuePipe`` (``_runtime/pipes.py``), whose outgoing bytes are bounded
(a consumer that falls behind is closed with ``CLOSE_SLOW_CONSUMER`` rather than growing
memory).

Invariants:
- Nothing but ``init`` is served before ``init``; actions run concurrently (the actor
  still runs them one at a time), at most ``Limits.max_conn_pending_actions`` per socket.
- A bad frame is answered with an ``error`` (or, for an oversized frame, a close with
  ``CLOSE_TOO_LARGE``) and never reaches the actor.
- A session never holds an actor instance: it knows the actor id and its connection's id
  and token, and reaches the actor through the node (``node.links``) for every frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from actorkit._runtime.connection import too_many_subscriptions
from actorkit._runtime.pipes import QueuePipe
from actorkit.errors import (
    ActorError,
    Code,
    StorageError,
    internal_error,
    invalid_request,
    storage_failure,
    too_large,
    validation_error,
)
from actorkit.protocol.messages import (
    CLOSE_MOVED,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REJECTED,
    CLOSE_RESTARTING,
    CLOSE_TOO_LARGE,
    ActionRequest,
    ActionResponse,
    Error,
    Init,
    Ping,
    Pong,
    Subscribe,
    Unsubscribe,
    Welcome,
)

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["DEFAULT_PING_INTERVAL", "ConnectionSession", "QueuePipe"]

log = logging.getLogger("actorkit.connections")

DEFAULT_PING_INTERVAL = 15.0
_params_encoder = msgspec.msgpack.Encoder()


class ConnectionSession:
    """Serves the connection protocol on one socket to the actor ``actor_id``."""

    def __init__(
        self,
        node: Node,
        actor_id: str,
        pipe: QueuePipe,
        gate: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self.node = node
        # Authenticates the init's params before the actor is woken (a server socket's).
        self.gate = gate
        self.actor_id = actor_id
        self.pipe = pipe
        self.codec = pipe.codec
        self.limits = node.limits
        # (id, token) of this socket's connection once open; None before init and while
        # the actor sleeps (see ``hibernated``).
        self.conn: tuple[str, str] | None = None
        self.last_seen = time.monotonic()
        self.ping_interval = DEFAULT_PING_INTERVAL
        # (conn id, token) while the actor sleeps and this socket waits for it (hibernation).
        self.hibernated: tuple[str, str] | None = None
        pipe.on_hibernate = self.hibernate
        self._pending: set[asyncio.Task[None]] = set()

    # -- incoming ---------------------------------------------------------------------------

    async def feed(self, data: bytes | str) -> None:
        """Handle one incoming frame."""
        self.last_seen = time.monotonic()
        limit = self.limits.max_message_bytes
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "replace"))
        if size > limit:
            self._error(None, too_large(f"message is {size} bytes; the limit is {limit}", limit))
            self.pipe.close(CLOSE_TOO_LARGE, "message_too_large")
            return
        try:
            msg = self.codec.decode_client(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._error(None, invalid_request(f"malformed message: {exc}"))
            return
        if self.hibernated is not None and not isinstance(msg, Ping):
            await self._wake()
        if isinstance(msg, ActionRequest):
            self._action(msg)
        elif isinstance(msg, Subscribe | Unsubscribe):
            self._subscribe(msg.event, isinstance(msg, Subscribe))
        elif isinstance(msg, Ping):
            self.pipe.write(self.codec.encode(Pong(msg.ts)))
        elif isinstance(msg, Init):
            await self._init(msg)

    async def _init(self, msg: Init) -> None:
        if self.conn is not None or self.hibernated is not None:
            self._error(None, invalid_request("init was already sent on this socket"))
            self.pipe.close(CLOSE_PROTOCOL_ERROR, "duplicate init")
            return
        params = {} if msg.params is None else msg.params
        try:
            self._check_params(params)
            self._check_subscriptions(msg.subscriptions)
            if self.gate is not None:
                await self.gate(params)
            opened = await self.node.links.open(
                self.actor_id, params, msg.subscriptions, self.pipe, (msg.conn_id, msg.token)
            )
        except ActorError as err:
            self._error(None, err)
            # A retryable refusal (the actor moved, the node is fenced) is no refusal: the
            # client reconnects and lands wherever the actor lives now.
            retryable = isinstance(err.metadata, dict) and err.metadata.get("retryable") is True
            self.pipe.close(CLOSE_MOVED if retryable else CLOSE_REJECTED, err.code)
            return
        except StorageError as exc:
            self._error(None, storage_failure(exc))
            self.pipe.close(CLOSE_MOVED, Code.STORAGE_UNAVAILABLE)
            return
        except Exception:
            log.exception("connect to %s failed", self.actor_id)
            self._error(None, internal_error())
            self.pipe.close(CLOSE_REJECTED, Code.INTERNAL_ERROR)
            return
        self.conn = (opened.id, opened.token)
        welcome = Welcome(
            opened.id,
            opened.token,
            self.actor_id,
            opened.resumed,
            opened.subscriptions,
            self.ping_interval,
        )
        self.pipe.write(self.codec.encode(welcome))
        if not self.node.links.attach(self.actor_id, opened.id, opened.token, self.pipe):
            self.pipe.close(CLOSE_RESTARTING, "the actor stopped; reconnect")

    def _check_params(self, params: Any) -> None:
        try:
            size = len(_params_encoder.encode(params))
        except (TypeError, ValueError, OverflowError) as exc:
            raise invalid_request(f"params cannot be serialized: {exc}") from None
        limit = self.limits.max_params_bytes
        if size > limit:
            raise too_large(f"connection params are {size} bytes; the limit is {limit}", limit)

    def _check_subscriptions(self, events: list[str] | None) -> None:
        """The ``init`` subscriptions obey the limits of ``sub``."""
        if events is None:
            return
        limit = self.limits.max_subscriptions
        if len(events) > limit and len(set(events)) > limit:
            raise too_many_subscriptions(limit)
        for event in events:
            self._check_event(event)

    def _check_event(self, event: str) -> None:
        limit = self.limits.max_event_name_bytes
        size = len(event.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise validation_error(
                f"event name is {size} bytes; the limit is {limit}", {"limit": limit}
            )

    def _action(self, msg: ActionRequest) -> None:
        if self.conn is None:
            self._error(msg.id, invalid_request("send init before any action"))
            return
        limit = self.limits.max_conn_pending_actions
        if len(self._pending) >= limit:
            self._error(
                msg.id,
                ActorError(
                    "request",
                    Code.OVERLOADED,
                    f"more than {limit} actions pending on this connection",
                    {"limit": limit},
                ),
            )
            return
        task = asyncio.ensure_future(self._run_action(msg, self.conn[0]))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _run_action(self, msg: ActionRequest, conn_id: str) -> None:
        try:
            output = await self.node.links.call(
                self.actor_id, conn_id, msg.name, msg.args, msg.idempotency_key, msg.kwargs
            )
        except ActorError as err:
            self._error(msg.id, err)
            return
        except StorageError as exc:
            self._error(msg.id, storage_failure(exc))
            return
        except Exception:
            log.exception("action %r on %s failed", msg.name, self.actor_id)
            self._error(msg.id, internal_error())
            return
        data = self.codec.encode(ActionResponse(msg.id, output))
        limit = self.limits.max_outgoing_message_bytes
        if len(data) > limit:
            self._error(
                msg.id, too_large(f"output is {len(data)} bytes; the limit is {limit}", limit)
            )
            return
        await self.pipe.send_now(data)

    def _subscribe(self, event: str, on: bool) -> None:
        if self.conn is None:
            self._error(None, invalid_request("send init before subscribing"))
            return
        try:
            self._check_event(event)
            self.node.links.subscribe(self.actor_id, self.conn[0], event, on)
        except ActorError as err:
            self._error(None, err)

    def _error(self, action_id: int | None, err: ActorError) -> None:
        msg = Error(action_id, err.group, err.code, err.message, err.metadata)
        self.pipe.write(self.codec.encode(msg))

    # -- lifecycle ----------------------------------------------------------------------------

    def ping(self) -> None:
        self.pipe.write(self.codec.encode(Ping(time.time())))

    # -- hibernation ------------------------------------------------------------------------

    def hibernate(self) -> None:
        """The actor is going to sleep; keep the socket open and wait for its next wake.

        Its connection record (state, subscriptions) is persisted by the sleeping actor.
        """
        if self.conn is None:
            return
        self.hibernated, self.conn = self.conn, None
        self.node.hibernating.setdefault(self.actor_id, set()).add(self)

    def reattach(self) -> None:
        """The actor woke (for any reason): take the connection back on this socket."""
        if self.hibernated is None:
            return
        conn_id, token = self.hibernated
        self.hibernated = None
        if not self.node.links.attach(self.actor_id, conn_id, token, self.pipe):
            # Dropped meanwhile: the client reconnects afresh.
            self.pipe.close(CLOSE_RESTARTING, "connection expired while the actor slept")
            return
        self.conn = (conn_id, token)

    async def _wake(self) -> None:
        """A message arrived for a sleeping actor: wake it (which reattaches this socket)."""
        try:
            await self.node.instance(self.actor_id)
        except ActorError as err:
            self._error(None, err)
            self.pipe.close(CLOSE_RESTARTING, err.code)
            return
        self.reattach()  # in case the wake raced with this socket's hibernation

    def closed(self, *, clean: bool) -> None:
        """The socket is gone. ``clean``: the client said goodbye (drop the connection now)."""
        self.pipe.close(CLOSE_PROTOCOL_ERROR, "closed")
        if self.hibernated is not None:
            # The record stays; the next wake drops it after the reconnect grace.
            sessions = self.node.hibernating.get(self.actor_id)
            if sessions is not None:
                sessions.discard(self)
                if not sessions:
                    del self.node.hibernating[self.actor_id]
            self.hibernated = None
        if self.conn is not None:
            self.node.links.detach(self.actor_id, self.conn[0], self.pipe, clean=clean)
