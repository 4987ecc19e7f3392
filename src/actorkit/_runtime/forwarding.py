"""Calls for actors that live on another node: the error that says where, and the seam
(``Forwarder``) through which the node hands such calls over. The server layer provides the
implementation (HTTP between nodes); the runtime never imports it.
"""

from __future__ import annotations

from typing import Any, Protocol

from actorkit.errors import ActorError, Code
from actorkit.storage.base import Member

__all__ = ["MAX_HOPS", "ActorElsewhere", "Forwarder", "NotDelivered"]

#: How many times one call may be handed from node to node before it fails (retryably):
#: ownership can move while a call travels, but never in a loop for long.
MAX_HOPS = 3


class ActorElsewhere(ActorError):
    """The actor is active on (or should wake on) ``member``, another node."""

    def __init__(self, actor_id: str, member: Member) -> None:
        super().__init__(
            "actor",
            Code.ACTOR_OWNED_ELSEWHERE,
            f"actor {actor_id} lives on node {member.id}; retry",
            {"actor_id": actor_id, "owner": member.id, "retryable": True},
        )
        self.member = member

    @property
    def url(self) -> str:
        assert self.member.url is not None
        return self.member.url


class NotDelivered(ActorError):
    """Forwarding failed before the other node could have seen the call (it refused the
    connection: it died or is shutting down), so trying again cannot run the call twice."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            "actor",
            Code.NODE_UNAVAILABLE,
            f"the node that owns the actor ({url}) did not answer: {reason}; retry",
            {"retryable": True},
        )


class Forwarder(Protocol):
    """Hands calls to another node (``url`` is that node's advertised base URL)."""

    async def call(
        self,
        url: str,
        actor_id: str,
        action: str,
        args: list[Any],
        params: Any,
        *,
        chain: str,
        hops: int,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run the action there (with its idempotency key, if any); returns its output,
        raises its ``ActorError`` — or ``NotDelivered`` when the other node certainly did
        not get the call."""
        ...

    async def destroy(self, url: str, actor_id: str, *, hops: int) -> None: ...

    async def aclose(self) -> None: ...
