"""Authentication before activation: ``AuthRequest`` and the hooks that judge it.

An application authenticates with a registry-level function (``Registry(...,
authenticate=fn)``, run first for every actor type) and/or a class-level
``@staticmethod authenticate(request)`` on an actor class. Both get an ``AuthRequest`` and
refuse by raising ``UserError`` (code ``unauthorized`` unless they give another). They run
at the server's entry points before the actor is created or woken, so a refused client
costs no activation: no ``create_state``, ``create_vars``, ``on_wake`` or migration.

Calls made in-process (``registry.test_client()``, ``self.client`` inside an actor) are
the application's own code and are not authenticated.

Example::

    def check_api_key(request: AuthRequest) -> None:
        if request.headers.get("authorization") != "Bearer s3cret":
            raise UserError("missing or wrong API key")

    registry = Registry(Counter, authenticate=check_api_key)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from actorkit.errors import ActorError, Code, UserError, internal_error
from actorkit.options import DEFAULT_HOOK_TIMEOUT

if TYPE_CHECKING:
    from actorkit._runtime.registry import Registry

__all__ = ["AUTH_TIMEOUT", "AuthRequest", "Authenticator", "Intent", "authenticate"]

log = logging.getLogger("actorkit.auth")

#: What the client is trying to do.
Intent = Literal[
    "create",  # POST /actors
    "get_or_create",  # PUT /actors (creates the actor if it does not exist)
    "get",  # GET /actors?name=…&key=…, GET /actors/{id}
    "list",  # GET /actors (a listing; actor_name is the filter, if any)
    "call",  # an action call over HTTP
    "connect",  # a connection (WebSocket ``init``; also every resume)
    "request",  # raw HTTP to on_request
    "websocket",  # raw WebSocket to on_websocket
    "destroy",  # DELETE /actors/{id}
]

#: Seconds an authenticate hook may take before the request is refused (``internal_error``).
AUTH_TIMEOUT = DEFAULT_HOOK_TIMEOUT

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthRequest:
    """What a client asks for, as an ``authenticate`` hook sees it (before any activation).

    - ``intent``: ``"create"``, ``"get_or_create"``, ``"get"``, ``"list"``, ``"call"``,
      ``"connect"``, ``"request"``, ``"websocket"`` or ``"destroy"``.
    - ``actor_name``, ``key`` (a tuple of strings), ``actor_id``: whichever are known (by
      id: all three, read from storage without waking the actor; a create: no id yet).
    - ``action``: the action's name, for ``"call"``.
    - ``params``: connection params (the WebSocket ``init``'s, a call's
      ``X-Actorkit-Params``/body ``params``, raw routes' ``?params=``), else ``None``.
    - ``headers``: the HTTP request's (or WebSocket handshake's) headers, read-only, names
      in lower case: ``request.headers.get("authorization")``.
    - ``client``: the peer's ``(host, port)``, when the server knows it. Behind a proxy, or
      for a call another cluster node forwarded, it is that proxy's or node's address.
    """

    intent: Intent
    actor_name: str | None = None
    key: tuple[str, ...] | None = None
    actor_id: str | None = None
    action: str | None = None
    params: Any = None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    client: tuple[str, int] | None = None


#: ``authenticate(request)``: return None to accept, raise ``UserError`` to refuse (any other
#: return value refuses too, as ``internal_error``). Sync or async.
Authenticator = Callable[[AuthRequest], "Awaitable[None] | None"]


def headers_from_asgi(raw: list[tuple[bytes, bytes]]) -> Mapping[str, str]:
    """Read-only, lower-case header mapping from an ASGI scope's ``headers`` (first wins)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return MappingProxyType(headers)


async def authenticate(registry: Registry, request: AuthRequest) -> None:
    """Run the registry's hook, then the actor class's (if this node has the class).

    Raises ``ActorError``: group ``user`` with the hook's code (``unauthorized`` for a
    ``UserError`` without its own code), or ``internal_error`` when a hook crashed or took
    longer than ``AUTH_TIMEOUT``.
    """
    hooks: list[Authenticator] = []
    if registry.authenticator is not None:
        hooks.append(registry.authenticator)
    if request.actor_name is not None:
        try:
            own = registry.definition(request.actor_name).authenticate
        except ActorError:  # a type only other nodes host: their node runs its hook
            own = None
        if own is not None:
            hooks.append(own)
    for hook in hooks:
        await _run(hook, request)


async def _run(hook: Authenticator, request: AuthRequest) -> None:
    try:
        result: Any = hook(request)
        if inspect.isawaitable(result):
            async with asyncio.timeout(AUTH_TIMEOUT):
                result = await result
    except UserError as err:
        code = Code.UNAUTHORIZED if err.code == "user_error" else err.code
        raise ActorError("user", code, err.message, err.metadata) from None
    except ActorError:
        raise
    except TimeoutError:
        log.error("authenticate hook %r took longer than %ss", hook, AUTH_TIMEOUT)
        raise internal_error() from None
    except Exception:
        log.exception("authenticate hook %r failed; the request is refused", hook)
        raise internal_error() from None
    if result is not None:
        # Fail closed: ``return False`` reads like a refusal, so it must not be an approval.
        log.error(
            "authenticate hook %r returned %r: return None to accept, raise UserError to "
            "refuse; the request is refused",
            hook,
            result,
        )
        raise internal_error()
