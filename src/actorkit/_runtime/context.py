"""Per-call context carried through ``await`` chains (and into tasks they spawn)."""

from __future__ import annotations

import itertools
import secrets
from contextvars import ContextVar
from typing import Any

#: Tokens of the actor turns held by the current call chain. A call to an actor whose active
#: turn is in the chain runs inside that turn (re-entry) instead of waiting for it, so
#: A → B → A cannot deadlock — also across nodes: a call forwarded to another node carries
#: the chain (``export_chain``), and that node's calls back carry it home again.
#:
#: A token is an ``int`` for a turn of this process, or ``"<node id>:<n>:<secret>"`` for
#: another node's turn. The secret is per process and travels only between nodes, so a
#: client cannot forge a token to slip into an actor's running turn.
call_chain: ContextVar[frozenset[int | str]] = ContextVar(
    "actorkit_call_chain", default=frozenset()
)

#: Source of this process's turn tokens.
next_turn = itertools.count(1).__next__

_SECRET = secrets.token_hex(8)


def export_chain(node_id: str) -> str:
    """The current call chain as a header value (empty when there is none)."""
    return ",".join(
        f"{node_id}:{token}:{_SECRET}" if isinstance(token, int) else token
        for token in call_chain.get()
    )


def import_chain(node_id: str, header: str | None) -> frozenset[int | str]:
    """The call chain a forwarded call arrived with; this node's own tokens become ints."""
    if not header:
        return frozenset()
    tokens: set[int | str] = set()
    for token in header.split(",")[:64]:
        owner, _, rest = token.partition(":")
        number, _, secret = rest.partition(":")
        if owner == node_id:
            if secret == _SECRET and number.isascii() and number.isdigit() and len(number) < 19:
                tokens.add(int(number))
        elif token:
            tokens.add(token)
    return frozenset(tokens)


#: The connection that made the current call, as ``(actor_id, conn)``; None for stateless.
current_conn: ContextVar[tuple[str, Any] | None] = ContextVar("actorkit_conn", default=None)
