"""``Links``: how a socket's session reaches its actor's connection — through the node, by id.

A ``ConnectionSession`` holds only the actor id and its connection's id and token, never an
instance: every frame is routed here to whatever instance of the actor is awake now. That is
the seam where a cluster routes a socket to the node that owns the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorkit._runtime.idempotency import check_key
from actorkit._runtime.lifecycle import Lifecycle, Retry
from actorkit.errors import ActorError, Code, actor_not_found

if TYPE_CHECKING:
    from actorkit._runtime.connections import Connection, Pipe
    from actorkit._runtime.instance import ActorInstance
    from actorkit._runtime.node import Node

__all__ = ["Links", "OpenedConnection"]

_RETRIES = 100


@dataclass(frozen=True, slots=True)
class OpenedConnection:
    """What a session learns when its connection opens (the welcome's contents)."""

    id: str
    token: str
    subscriptions: list[str]
    resumed: bool


def _gone() -> ActorError:
    return ActorError("connection", Code.CONNECTION_LOST, "connection was closed")


class Links:
    """The node's side of every socket's connection (``node.links``)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def open(
        self,
        actor_id: str,
        params: Any,
        subscriptions: list[str] | None,
        pipe: Pipe,
        resume: tuple[str | None, str | None],
    ) -> OpenedConnection:
        """Resume the connection ``resume`` = (id, token) if it still exists, else run the
        connect flow. The caller sends its welcome, then calls ``attach``."""
        conn_id, token = resume
        for _ in range(_RETRIES):
            inst = await self.node.instance(actor_id)
            mgr = inst.connections
            try:
                existing = mgr.find(conn_id, token)
                if existing is not None:
                    try:
                        await mgr.resume(existing, params, pipe, subscriptions)
                        return _opened(existing, resumed=True)
                    except ActorError as err:
                        if err.code != Code.CONNECTION_LOST:
                            raise
                conn = await mgr.connect(params, subscriptions)
                if inst.lifecycle is Lifecycle.DESTROYED:  # self.destroy() in on_connect
                    raise actor_not_found("actor was destroyed")
                return _opened(conn, resumed=False)
            except Retry:
                continue
        raise ActorError("actor", Code.ACTOR_STOPPING, "actor kept stopping; try again")

    def attach(self, actor_id: str, conn_id: str, token: str, pipe: Pipe) -> bool:
        """Route the connection's events to ``pipe``; False if the awake actor (if any) no
        longer has that connection."""
        inst = self._awake(actor_id)
        conn = None if inst is None else inst.connections.find(conn_id, token)
        if inst is None or conn is None:
            return False
        inst.connections.attach(conn, pipe)
        return True

    async def call(
        self,
        actor_id: str,
        conn_id: str,
        action: str,
        args: list[Any],
        key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run ``action`` with ``self.conn`` set to the connection ``conn_id`` (``key``: the
        call's idempotency key, if any)."""
        inst, conn = self._conn(actor_id, conn_id)
        if action in inst.definition.internal_actions:  # connections are clients
            inst.definition.action(action, outside=True)  # action_not_found
        if key is not None:
            check_key(key, self.node.limits.max_idempotency_key_length)
        try:
            return await inst.call(action, args, conn, idempotency_key=key, kwargs=kwargs)
        except Retry:
            raise ActorError("actor", Code.ACTOR_STOPPING, "the actor is restarting") from None

    def subscribe(self, actor_id: str, conn_id: str, event: str, on: bool) -> None:
        inst, conn = self._conn(actor_id, conn_id)
        inst.connections.subscribe(conn, event, on)

    def detach(self, actor_id: str, conn_id: str, pipe: Pipe, *, clean: bool) -> None:
        """The socket ``pipe`` of the connection went away (see ``ConnectionManager.detach``)."""
        inst = self.node.instances.get(actor_id)
        conn = None if inst is None else inst.conns.get(conn_id)
        if inst is not None and conn is not None:
            inst.connections.detach(conn, pipe, clean=clean)

    def _awake(self, actor_id: str) -> ActorInstance | None:
        inst = self.node.instances.get(actor_id)
        return inst if inst is not None and inst.serving else None

    def _conn(self, actor_id: str, conn_id: str) -> tuple[ActorInstance, Connection]:
        inst = self._awake(actor_id)
        conn = None if inst is None else inst.conns.get(conn_id)
        if inst is None or conn is None:
            raise _gone()
        return inst, conn


def _opened(conn: Connection, *, resumed: bool) -> OpenedConnection:
    return OpenedConnection(conn.id, conn._token, sorted(conn.subscriptions), resumed)
