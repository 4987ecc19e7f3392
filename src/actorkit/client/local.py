"""In-process transport: calls a ``Node`` directly, with the wire's copy semantics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actorkit.client.transport import ResolveMode
from actorkit.errors import ActorError, Code, StorageError, validation_error

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["LocalTransport", "record_to_dict"]


def record_to_dict(record: Any) -> dict[str, Any]:
    return {
        "actor_id": record.id,
        "name": record.name,
        "key": list(record.key),
        "created_at": record.created_at,
        "region": record.region,
    }


def _copy_args(args: Any) -> list[Any]:
    # Arguments cross as builtins, exactly as they would over the wire.
    try:
        out = msgspec.to_builtins(args)
    except (TypeError, ValueError) as exc:
        raise validation_error(f"arguments cannot be serialized: {exc}") from None
    assert isinstance(out, list)
    return out


def _storage_error(exc: StorageError) -> ActorError:
    # The transport contract is "raises ActorError": a StorageError (unreadable or too new
    # persisted data, a failing disk) must not escape to the caller as a bare exception.
    return ActorError("internal", Code.STORAGE_ERROR, str(exc))


class LocalTransport:
    """Serves a client from a node in this process (``registry.test_client()``)."""

    def __init__(self, node: Node, *, owns_node: bool = False) -> None:
        self.node = node
        self._owns_node = owns_node

    async def start(self) -> None:
        if self._owns_node:
            await self.node.start()

    async def aclose(self) -> None:
        if self._owns_node:
            await self.node.stop()

    async def resolve(
        self, name: str, key: tuple[str, ...], mode: ResolveMode, input: Any, region: str | None
    ) -> str:
        try:
            record = await self.node.resolve(name, key, mode, msgspec.to_builtins(input), region)
        except StorageError as exc:
            raise _storage_error(exc) from exc
        return record.id

    async def call(self, actor_id: str, action: str, args: list[Any], params: Any) -> Any:
        try:
            return await self.node.call(
                actor_id, action, _copy_args(list(args)), params=msgspec.to_builtins(params)
            )
        except StorageError as exc:
            raise _storage_error(exc) from exc

    async def destroy(self, actor_id: str) -> None:
        try:
            await self.node.destroy(actor_id)
        except StorageError as exc:
            raise _storage_error(exc) from exc

    async def list_actors(
        self, name: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        records = await self.node.list_actors(name, after=after, limit=limit)
        return [record_to_dict(r) for r in records]
