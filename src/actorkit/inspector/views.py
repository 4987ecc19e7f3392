"""What the inspector shows, as JSON-ready builtins: actors, state, connections, schedules.

Reads never wake an actor: an asleep actor's state and schedules come from storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actorkit._runtime.connection import CONN_PREFIX, SUB_PREFIX, record_decoder
from actorkit._runtime.instance import ActorInstance, Lifecycle
from actorkit._runtime.schedule import SCHEDULE_PREFIX, ScheduledCall
from actorkit._runtime.state import STATE_KEY, decode_state, decode_value
from actorkit.protocol.records import record_to_dict

if TYPE_CHECKING:
    from actorkit._runtime.definition import ActorDefinition
    from actorkit._runtime.node import Node
    from actorkit.storage.base import ActorRecord

__all__ = [
    "actor_summary",
    "awake_instance",
    "connections_of",
    "describe_type",
    "has_db",
    "hibernating_ids",
    "schedules_of",
    "state_of",
    "to_json_value",
]

_schedule_decoder = msgspec.msgpack.Decoder(ScheduledCall)


def to_json_value(value: Any) -> Any:
    """Builtins for any value; what cannot be converted is shown as its ``repr``."""
    return msgspec.to_builtins(value, enc_hook=repr)


def awake_instance(node: Node, actor_id: str) -> ActorInstance | None:
    inst = node.instances.get(actor_id)
    if inst is None or inst.lifecycle is not Lifecycle.AWAKE:
        return None
    return inst


def hibernating_ids(node: Node, actor_id: str) -> set[str]:
    """Connections of an asleep actor whose sockets stay open, waiting for it (hibernation)."""
    sessions = node.hibernating.get(actor_id, ())
    return {s.hibernated[0] for s in sessions if s.hibernated is not None}


def has_db(definition: ActorDefinition) -> bool:
    """Whether this build has per-actor databases (``self.db``)."""
    return hasattr(definition.cls, "db")


def describe_type(node: Node, definition: ActorDefinition) -> dict[str, Any]:
    awake = sum(
        1
        for inst in node.instances.values()
        if inst.definition is definition and inst.lifecycle is Lifecycle.AWAKE
    )
    return {
        "name": definition.name,
        "awake": awake,
        "has_state": definition.has_state,
        "has_db": has_db(definition),
        "actions": [
            {
                "name": spec.name,
                "params": [
                    {
                        "name": p.name,
                        "type": _type_name(p.type),
                        "required": p.required,
                    }
                    for p in spec.params
                ],
                "var_args": spec.var_positional is not None,
                "internal": spec.internal,
            }
            for spec in sorted(definition.actions.values(), key=lambda s: s.name)
        ],
    }


def _type_name(t: Any) -> str:
    if t is None:
        return "any"
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def actor_summary(node: Node, record: ActorRecord) -> dict[str, Any]:
    inst = awake_instance(node, record.id)
    owner = node.id if inst is not None else record.owner
    # A hibernating connection is open though its actor sleeps: it counts, and says so.
    hibernating = 0 if inst is not None else len(hibernating_ids(node, record.id))
    return {
        **record_to_dict(record),
        "owner": owner,
        "owner_url": node.membership.url_of(owner),
        "awake": owner is not None,
        "connections": len(inst.conns) if inst is not None else hibernating,
        "hibernating": hibernating,
        "woken_at": inst.woken_at if inst is not None else None,
    }


async def state_of(node: Node, actor_id: str) -> Any:
    """The actor's state as of its last completed turn (never half an action)."""
    inst = awake_instance(node, actor_id)
    if inst is not None:
        if not inst.definition.has_state:
            return None
        persisted = inst._persisted
        if persisted is not None:
            return decode_value(persisted, Any)
        return to_json_value(inst.state)
    data = await node.driver.load(actor_id)
    stored = data.get(STATE_KEY)
    if stored is None:
        return None
    _version, raw = decode_state(stored)
    return decode_value(raw, Any)


async def schedules_of(node: Node, actor_id: str) -> list[dict[str, Any]]:
    inst = awake_instance(node, actor_id)
    if inst is not None:
        calls = inst.schedule.list()
    else:
        data = await node.driver.load(actor_id)
        calls = sorted(
            (_schedule_decoder.decode(v) for k, v in data.items() if k.startswith(SCHEDULE_PREFIX)),
            key=lambda c: (c.at, c.id),
        )
    out: list[dict[str, Any]] = msgspec.to_builtins(calls)
    return out


async def connections_of(node: Node, actor_id: str) -> list[dict[str, Any]]:
    """An awake actor's connections; an asleep one's hibernating connections, from storage."""
    inst = awake_instance(node, actor_id)
    if inst is not None:
        return [_describe_conn(conn_id, conn) for conn_id, conn in inst.conns.items()]
    ids = hibernating_ids(node, actor_id)
    if not ids:
        return []
    data = await node.driver.load(actor_id)
    subs: dict[str, list[str]] = {}
    for key in sorted(k for k in data if k.startswith(SUB_PREFIX)):
        conn_id, _, event = key[len(SUB_PREFIX) :].decode("utf-8", "surrogatepass").partition("/")
        subs.setdefault(conn_id, []).append(event)
    found: list[dict[str, Any]] = []
    for conn_id in sorted(ids):
        stored = data.get(CONN_PREFIX + conn_id.encode())
        if stored is None:
            continue
        rec = record_decoder.decode(stored)
        found.append(
            {
                "id": conn_id,
                "params": to_json_value(rec.params),
                "state": to_json_value(rec.state),
                "subscriptions": sorted({*rec.subscriptions, *subs.get(conn_id, ())}),
                "connected": True,
                "hibernating": True,
                "created_at": rec.created_at,
            }
        )
    return found


def _describe_conn(conn_id: str, conn: Any) -> dict[str, Any]:
    # Read the private slot: the public ``state`` property marks the connection dirty.
    state = conn.__dict__["_state"] if "_state" in conn.__dict__ else getattr(conn, "state", None)
    subs = getattr(conn, "subscriptions", ())
    return {
        "id": conn_id,
        "params": to_json_value(getattr(conn, "params", None)),
        "state": to_json_value(state),
        "subscriptions": sorted(subs),
        "connected": bool(getattr(conn, "connected", True)),
        "hibernating": False,
        "created_at": getattr(conn, "created_at", None),
    }
