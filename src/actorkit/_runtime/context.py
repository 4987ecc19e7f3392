"""Per-call context carried through ``await`` chains (and into tasks they spawn)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

#: Tokens of the actor turns held by the current call chain. A call to an actor whose active
#: turn is in the chain runs inside that turn (re-entry) instead of waiting for it, so
#: A → B → A cannot deadlock.
call_chain: ContextVar[frozenset[object]] = ContextVar("actorkit_call_chain", default=frozenset())

#: The connection that made the current call, as ``(actor_id, conn)``; None for stateless.
current_conn: ContextVar[tuple[str, Any] | None] = ContextVar("actorkit_conn", default=None)
