"""Changes made from the inspector, each run as one turn of the actor (so it is serialized
with actions, rolled back if it fails, and durable before the reply): state edits,
schedule cancels, disconnects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actorkit._runtime.actor import _NO_STATE, actor_state, set_actor_state
from actorkit._runtime.state import encode_state
from actorkit.errors import ActorError, Code, validation_error

if TYPE_CHECKING:
    from actorkit._runtime.actor import Actor
    from actorkit._runtime.node import Node

__all__ = ["cancel_schedule", "disconnect", "edit_state"]

_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
    (type(None), "null"),
)


def _kind(value: Any) -> str:
    for t, name in _KINDS:
        if isinstance(value, t):
            return name
    return "an object"  # structs, dataclasses: objects on the wire


def _validated(node: Node, actor: Actor, value: Any) -> Any:
    """``value`` converted to the actor's state type, or ``validation_error`` with why."""
    inst = actor._ak
    definition = inst.definition
    if not definition.has_state:
        raise validation_error(f"actor {definition.name!r} has no state")
    state_type = definition.state_type
    if state_type is not None and state_type is not Any:
        try:
            return msgspec.convert(value, state_type)
        except msgspec.ValidationError as exc:
            raise validation_error(
                f"state must be a valid {getattr(state_type, '__name__', state_type)}: {exc}",
                {"reason": str(exc)},
            ) from None
    current = actor_state(actor)
    if current is not None and current is not _NO_STATE and _kind(current) != _kind(value):
        raise validation_error(
            f"state is {_kind(current)}; the edit must be {_kind(current)} too, not {_kind(value)}",
            {"reason": "type_mismatch"},
        )
    encode_state(value)  # state_not_serializable before anything changes
    return value


async def edit_state(node: Node, actor_id: str, value: Any) -> Any:
    """Replace the actor's state with ``value`` (validated); returns the new state."""

    def apply(actor: Actor) -> Any:
        set_actor_state(actor, _validated(node, actor, value))
        return msgspec.to_builtins(actor_state(actor))

    try:
        return await node.run_in_turn(actor_id, apply)
    except ActorError as err:
        if err.code == Code.STATE_NOT_SERIALIZABLE:
            raise validation_error(err.message, {"reason": "not_serializable"}) from None
        raise


async def cancel_schedule(node: Node, actor_id: str, schedule_id: str) -> None:
    cancelled = await node.run_in_turn(actor_id, lambda actor: actor.schedule.cancel(schedule_id))
    if not cancelled:
        raise ActorError(
            "inspector",
            Code.NOT_FOUND,
            f"no pending schedule {schedule_id!r}",
            {"schedule_id": schedule_id},
        )


async def disconnect(node: Node, actor_id: str, conn_id: str) -> None:
    def close(actor: Actor) -> None:
        conn = actor._ak.conns.get(conn_id)
        if conn is None:
            raise ActorError(
                "inspector", Code.NOT_FOUND, f"no connection {conn_id!r}", {"conn_id": conn_id}
            )
        conn.disconnect("disconnected by the inspector")

    inst = node.instances.get(actor_id)
    if inst is None or conn_id not in inst.conns:
        # Connections live only in awake actors: do not wake one to find none.
        await node.get_record(actor_id)
        raise ActorError(
            "inspector", Code.NOT_FOUND, f"no connection {conn_id!r}", {"conn_id": conn_id}
        )
    await node.run_in_turn(actor_id, close)
