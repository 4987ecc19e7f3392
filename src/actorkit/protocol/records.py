"""An actor's record as it crosses the wire: ``PUT /actors``, ``GET /actors`` replies."""

from __future__ import annotations

from typing import Any

__all__ = ["record_to_dict"]


def record_to_dict(record: Any) -> dict[str, Any]:
    """``{"actor_id", "name", "key", "created_at", "region", "owner"}`` of a storage
    ``ActorRecord`` (``owner``: the id of the node that has the actor awake, or null)."""
    return {
        "actor_id": record.id,
        "name": record.name,
        "key": list(record.key),
        "created_at": record.created_at,
        "region": record.region,
        "owner": record.owner,
    }
