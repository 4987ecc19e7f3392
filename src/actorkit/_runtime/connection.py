"""One connection (``self.conn``) and what is stored of it.

A connection's record (id, token, params, state) is stored under ``conn/<id>`` and each event
it subscribes to under ``connsub/<id>/<event>`` (an empty value), so that subscribing or
unsubscribing writes one small key, however many events the connection holds.
``ConnectionManager`` (``connections.py``) owns the connections of one actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from actorkit.errors import ActorError, Code
from actorkit.protocol.messages import CLOSE_ACTOR_DESTROYED, CLOSE_RESTARTING, Codec, Event

if TYPE_CHECKING:
    from actorkit._runtime.connections import ConnectionManager

__all__ = [
    "CONN_PREFIX",
    "SUB_PREFIX",
    "ConnRecord",
    "Connection",
    "Pipe",
    "record_decoder",
    "record_encoder",
    "sub_key",
    "too_many_subscriptions",
]

CONN_PREFIX = b"conn/"
#: ``connsub/<conn id>/<event>`` (empty value): one key per subscription.
SUB_PREFIX = b"connsub/"

record_encoder = msgspec.msgpack.Encoder()


class ConnRecord(msgspec.Struct):
    """What is persisted per connection (``conn/<id>`` in the actor's data)."""

    id: str
    token: str
    params: Any
    state: Any
    # Written empty: subscriptions have keys of their own (SUB_PREFIX). A record written
    # before that lists them here; ``restore`` moves them to their keys.
    subscriptions: list[str]
    created_at: float


record_decoder = msgspec.msgpack.Decoder(ConnRecord)


def sub_key(conn_id: str, event: str) -> bytes:
    return SUB_PREFIX + conn_id.encode() + b"/" + event.encode("utf-8", "surrogatepass")


def too_many_subscriptions(limit: int) -> ActorError:
    """A connection asked for more than ``Limits.max_subscriptions`` events."""
    return ActorError(
        "request",
        Code.OVERLOADED,
        f"a connection may subscribe to at most {limit} events",
        {"limit": limit},
    )


class Pipe(Protocol):
    """The server end of one socket: bounded outgoing bytes in the socket's codec."""

    codec: Codec

    def write(self, data: bytes) -> bool:
        """Queue ``data``; False when the outgoing bound was hit (the pipe then closes)."""
        ...

    def close(self, code: int, reason: str) -> None: ...


class Connection:
    """One client connection to an actor (``self.conn`` in an action, items of ``self.conns``).

    Example::

        @action
        def whisper(self, to: str, text: str) -> None:
            self.conns[to].send("whisper", {"from": self.conn.id, "text": text})
    """

    def __init__(
        self,
        manager: ConnectionManager,
        conn_id: str,
        token: str,
        params: Any,
        state: Any,
        subscriptions: set[str],
        created_at: float,
    ) -> None:
        self._manager = manager
        self.id = conn_id
        self.params = params
        self._state = state
        self.subscriptions = subscriptions
        self.created_at = created_at
        self._token = token
        self._pipe: Pipe | None = None
        self._backlog: list[Event] = []  # events for a detached connection
        self._backlog_bytes = 0
        self._persisted: bytes | None = None

    def __repr__(self) -> str:
        return f"<Connection {self.id} {'connected' if self.connected else 'detached'}>"

    @property
    def state(self) -> Any:
        """This connection's state (from ``create_conn_state``); persisted like actor state."""
        self._manager.dirty.add(self.id)
        return self._state

    @state.setter
    def state(self, value: Any) -> None:
        self._manager.dirty.add(self.id)
        self._state = value

    @property
    def connected(self) -> bool:
        """True while a socket is attached (False while the client is reconnecting)."""
        return self._pipe is not None

    def send(self, event: str, *args: Any) -> None:
        """Send ``event`` to this connection only (whether or not it subscribed)."""
        self._manager.emit(event, args, [self])

    def disconnect(self, reason: str = "disconnected") -> None:
        """Close this connection; the client does not reconnect. ``on_disconnect`` runs."""
        self._manager.disconnect_soon(self, reason)

    # -- used by the manager --------------------------------------------------------------

    def _push(self, event: Event, cache: dict[str, bytes]) -> None:
        pipe = self._pipe
        if pipe is None:
            self._buffer(event)
            return
        codec = pipe.codec
        data = cache.get(codec.subprotocol)
        if data is None:
            data = cache[codec.subprotocol] = codec.encode(event)
        pipe.write(data)

    def _buffer(self, event: Event) -> None:
        size = 64 + len(record_encoder.encode(event.args))
        self._backlog_bytes += size
        if self._backlog_bytes > self._manager.buffer_limit:
            # The client is too far behind to catch up: give the connection up.
            self._backlog.clear()
            self._manager.drop_soon(self)
            return
        self._backlog.append(event)

    def _record(self) -> bytes:
        return record_encoder.encode(
            ConnRecord(
                self.id,
                self._token,
                self.params,
                self._state,
                [],
                self.created_at,
            )
        )

    @property
    def hibernatable(self) -> bool:
        """Whether this connection lets the actor sleep (its socket can wait for the wake)."""
        if not self._manager.inst.definition.options.hibernate_connections:
            return False
        return self._pipe is None or getattr(self._pipe, "on_hibernate", None) is not None

    async def close_for_stop(self, destroy: bool) -> None:
        """The actor is stopping: hibernate the socket (going to sleep) or close it (destroy,
        server shutdown); the record stays for a resume on wake."""
        self._manager._cancel_timer(self.id)
        hibernate = getattr(self._pipe, "on_hibernate", None)
        if (
            hibernate is not None
            and not destroy
            and self.hibernatable
            and not self._manager.inst.node.closing
        ):
            self._pipe = None
            hibernate()
            return
        if self._pipe is not None:
            code = CLOSE_ACTOR_DESTROYED if destroy else CLOSE_RESTARTING
            self._pipe.close(code, "actor destroyed" if destroy else "actor is restarting")
            self._pipe = None
