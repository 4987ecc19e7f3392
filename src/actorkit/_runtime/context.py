"""Per-call context carried through ``await`` chains (and into tasks they spawn)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

#: Tokens of the actor turns held by the current call chain. A call to an actor whose active
#: turn is in the chain runs inside that turn (re-entry) instead of waiting for it, so
#: A → B → A cannot deadlock — also across nodes: a call forwarded to another node carries
#: the chain (``export_chain``), and that node's calls back carry it home again.
#:
#: A token is an ``int`` for a turn of this process, or ``"<node id>:<n>"`` for another
#: node's turn.
call_chain: ContextVar[frozenset[int | str]] = ContextVar(
    "actorkit_call_chain", default=frozenset()
)

#: Source of this process's turn tokens.
next_turn = itertools.count(1).__next__


def export_chain(node_id: str) -> str:
    """The current call chain as a header value (empty when there is none)."""
    return ",".join(
        f"{node_id}:{token}" if isinstance(token, int) else token for token in call_chain.get()
    )


def import_chain(node_id: str, header: str | None) -> frozenset[int | str]:
    """The call chain a forwarded call arrived with; this node's own tokens become ints."""
    if not header:
        return frozenset()
    own = f"{node_id}:"
    tokens: Iterable[str] = (t for t in header.split(",") if t)
    return frozenset(
        int(t[len(own) :]) if t.startswith(own) and t[len(own) :].isdigit() else t for t in tokens
    )


#: The connection that made the current call, as ``(actor_id, conn)``; None for stateless.
current_conn: ContextVar[tuple[str, Any] | None] = ContextVar("actorkit_conn", default=None)
