"""Listing actors for the sidebar: by type, by key or id substring, awake or asleep, paged.

The directory is scanned in id order from the ``after`` cursor; a filtered page stops after
``limit`` matches or ``SCAN_LIMIT`` records, whichever comes first, and returns a ``next``
cursor to continue from (``None`` once the directory is exhausted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actorkit.inspector.views import actor_summary, awake_instance

if TYPE_CHECKING:
    from actorkit._runtime.node import Node
    from actorkit.storage.base import ActorRecord

__all__ = ["SCAN_LIMIT", "list_actors"]

SCAN_LIMIT = 10_000
_PAGE = 500


def _matches(node: Node, record: ActorRecord, query: str, status: str | None) -> bool:
    awake = record.owner is not None or awake_instance(node, record.id) is not None
    if status is not None and awake != (status == "awake"):
        return False
    if not query:
        return True
    return query in "/".join(record.key).lower() or record.id.startswith(query)


async def list_actors(
    node: Node,
    *,
    name: str | None,
    query: str,
    status: str | None,
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    """``{"actors": [summary…], "next": cursor | None, "scanned": n}``."""
    query = query.strip().lower()
    found: list[dict[str, Any]] = []
    cursor = after
    scanned = 0
    exhausted = False
    while len(found) < limit and scanned < SCAN_LIMIT:
        page = await node.list_actors(name, after=cursor, limit=_PAGE)
        for record in page:
            scanned += 1
            cursor = record.id
            if _matches(node, record, query, status):
                found.append(actor_summary(node, record))
                if len(found) >= limit:
                    break
        if len(page) < _PAGE and (not page or cursor == page[-1].id):
            exhausted = True
            break
    return {"actors": found, "next": None if exhausted else cursor, "scanned": scanned}
