"""The client transport contract: how a client reaches actors (in-process or over HTTP)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

__all__ = ["AsyncTransport", "ResolveMode"]

ResolveMode = Literal["get", "get_or_create", "create"]


class AsyncTransport(Protocol):
    async def start(self) -> None:
        """Open connections or start the in-process node."""
        ...

    async def aclose(self) -> None: ...

    async def resolve(
        self,
        name: str,
        key: tuple[str, ...],
        mode: ResolveMode,
        input: Any,
        region: str | None,
    ) -> str:
        """The actor id of ``name[key]``, created per ``mode``."""
        ...

    async def call(
        self,
        actor_id: str,
        action: str,
        args: list[Any],
        params: Any,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run an action; returns its output as builtins. Raises ``ActorError``.

        With ``idempotency_key``, a repeat returns the first outcome (see ``docs/actions.md``).
        ``kwargs``: keyword arguments by parameter name.
        """
        ...

    async def destroy(self, actor_id: str) -> None: ...

    async def list_actors(
        self, name: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]: ...
