"""``Registry``: the actor classes an application serves, as the runtime sees them.

The public ``actorkit.Registry`` (``actorkit/registry.py``) subclasses it with the entry
points that serve them (``test_client``, ``asgi``, ``run``): those need the client and the
server, which the runtime does not import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actorkit._runtime.actor import Actor
from actorkit._runtime.definition import ActorDefinition
from actorkit.errors import ActorError, Code
from actorkit.options import Limits
from actorkit.protocol.keys import validate_name

if TYPE_CHECKING:
    from actorkit._runtime.auth import Authenticator

__all__ = ["Registry"]


class Registry:
    """Actor definitions by name, the limits every actor runs under, and the
    registry-level ``authenticate`` hook (see ``actorkit._runtime.auth``)."""

    def __init__(
        self,
        *actors: type[Actor],
        limits: Limits | None = None,
        authenticate: Authenticator | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.authenticator = authenticate
        #: Whether any authenticate hook (registry or class) exists: checks are free if not.
        self.authenticates = authenticate is not None
        self._definitions: dict[str, ActorDefinition] = {}
        for cls in actors:
            self.add(cls)

    def add(self, cls: type[Actor]) -> None:
        """Register another actor class."""
        definition = ActorDefinition(cls)
        try:
            validate_name(definition.name, self.limits)
        except ActorError as exc:  # refused here, not on every call
            raise ValueError(
                f"{cls.__name__}.name: {exc.message}; an actor name is lowercase letters, "
                f"digits, '_' and '-', at most {self.limits.max_name_length} characters"
            ) from None
        if definition.name in self._definitions:
            raise ValueError(f"two actor classes are named {definition.name!r}")
        self._definitions[definition.name] = definition
        self.authenticates = self.authenticates or definition.authenticate is not None

    @property
    def names(self) -> list[str]:
        return sorted(self._definitions)

    def definitions(self) -> list[ActorDefinition]:
        return [self._definitions[name] for name in self.names]

    def definition(self, name: str) -> ActorDefinition:
        try:
            return self._definitions[name]
        except KeyError:
            raise ActorError(
                "actor",
                Code.ACTOR_NOT_FOUND,
                f"no actor type named {name!r} is registered",
                {"name": name},
            ) from None

    def __repr__(self) -> str:
        return f"Registry({', '.join(self.names)})"
