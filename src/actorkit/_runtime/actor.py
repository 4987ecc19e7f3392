"""``Actor``, the base class users subclass, and the ``@action`` decorator."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    ParamSpec,
    TypeVar,
    overload,
)

from actorkit.errors import ActorError, Code
from actorkit.options import ActorOptions
from actorkit.protocol.keys import Key

if TYPE_CHECKING:
    from actorkit._runtime.db import ActorDatabase
    from actorkit._runtime.instance import ActorInstance
    from actorkit._runtime.schedule import Schedule
    from actorkit.client.base import AsyncClient

__all__ = [
    "ActionConfig",
    "Actor",
    "action",
    "actor_name_for",
    "actor_state",
    "blocking",
    "set_actor_state",
]

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

_NO_STATE: Any = object()


@dataclass(frozen=True, slots=True)
class ActionConfig:
    interleave: bool = False
    timeout: float | None = None
    internal: bool = False
    blocking: bool = False  # run the (sync) body in a worker thread, turn held


class ActionMethod(Generic[P, R]):
    """What ``@action`` leaves on the class: the original function, marked as an action.

    Inside the actor ``self.increment(1)`` is a plain method call (``P`` is the signature
    without ``self``; an async action returns its coroutine, to be awaited). On a typed
    client handle the same name becomes a remote call returning an awaitable of the result.
    """

    def __init__(self, fn: Callable[..., Any], config: ActionConfig) -> None:
        self.fn = fn
        self.config = config
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> ActionMethod[P, R]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> Callable[P, R]: ...
    def __get__(self, instance: object | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        return self.fn.__get__(instance, owner)


@overload
def action(fn: Callable[Concatenate[Any, P], R], /) -> ActionMethod[P, R]: ...
@overload
def action(
    *,
    interleave: bool = False,
    timeout: float | None = None,
    internal: bool = False,
    blocking: bool = False,
) -> Callable[[Callable[Concatenate[Any, P], R]], ActionMethod[P, R]]: ...
def action(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    interleave: bool = False,
    timeout: float | None = None,
    internal: bool = False,
    blocking: bool = False,
) -> Any:
    """Mark a method as an action that clients may call.

    Actions may be sync or async. Arguments and the result are validated and converted from
    the type hints. By default an actor runs one action at a time and an action that raises
    is rolled back; ``interleave=True`` lets an action run while others run (for long awaits),
    without rollback. ``timeout`` overrides ``ActorOptions.action_timeout``.
    ``internal=True`` keeps the action off the public API: schedules, the actor itself and
    other actors (through ``self.client``) may call it; HTTP, WebSocket and test clients get
    ``action_not_found``.
    ``blocking=True`` runs a sync action that blocks (``time.sleep``, a blocking client, CPU
    work) in a worker thread, still holding the actor's turn, so other actors and requests
    keep being served (see ``docs/actions.md``).

    Example::

        class Counter(Actor):
            state = {"count": 0}

            @action
            def increment(self, amount: int = 1) -> int:
                self.state["count"] += amount
                return self.state["count"]
    """
    config = ActionConfig(
        interleave=interleave, timeout=timeout, internal=internal, blocking=blocking
    )
    if fn is not None:
        return ActionMethod(fn, config)
    return lambda f: ActionMethod(f, config)


def blocking(fn: F) -> F:
    """Run a sync hook that blocks (``on_wake``, ``on_sleep``, ``create_state``…) in a
    worker thread, so the event loop keeps serving other actors meanwhile; it holds the
    actor's turn exactly as the hook would. For actions, ``@action(blocking=True)``.

    Example::

        class Report(Actor):
            @blocking
            def on_wake(self) -> None:
                self.vars = load_model_from_disk()  # slow, blocking
    """
    if inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"{fn.__qualname__}: @blocking is for a plain def; in an async hook, run the "
            "blocking part with `await asyncio.to_thread(...)`"
        )
    fn.__actorkit_blocking__ = True  # type: ignore[attr-defined]
    return fn


_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def actor_name_for(cls_name: str) -> str:
    """``ChatRoom`` → ``chat_room``."""
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", cls_name)).lower()


def actor_state(actor: Actor) -> Any:
    """The actor's live state object (``_NO_STATE`` before it is loaded or without state).

    The one accessor for the runtime and the inspector; actor code uses ``self.state``.
    """
    return actor.__dict__.get(_STATE_ATTR, _NO_STATE)


def set_actor_state(actor: Actor, value: Any) -> None:
    """Replace the actor's live state object (loading, rollback, inspector edits)."""
    actor.__dict__[_STATE_ATTR] = value


_STATE_ATTR = "_ak_state"


class _StateSlot:
    """``self.state``: the live state, or a clear error for actors without state."""

    def __get__(self, instance: Actor | None, owner: type[Actor]) -> Any:
        if instance is None:
            return owner._initial_state
        value = instance.__dict__.get(_STATE_ATTR, _NO_STATE)  # actor_state(), inlined: hot
        if value is _NO_STATE:
            raise ActorError(
                "actor",
                Code.STATE_NOT_ENABLED,
                f"actor {owner.name!r} has no state: define `state = ...` or `create_state`",
            )
        return value

    def __set__(self, instance: Actor, value: Any) -> None:
        if actor_state(instance) is _NO_STATE:
            raise ActorError(
                "actor",
                Code.STATE_NOT_ENABLED,
                f"actor {type(instance).name!r} has no state: define `state = ...` or "
                "`create_state`",
            )
        set_actor_state(instance, value)


class Actor:
    """Base class for actors. Subclass it, add ``@action`` methods, register the class.

    Class attributes: ``state`` (initial state, deep-copied per actor), ``name`` (defaults to
    the class name in snake_case), ``options`` (``ActorOptions``), ``state_version`` and
    ``migrations``. Hooks are optional methods, sync or async: ``create_state(input)``,
    ``create_vars()``, ``create_conn_state(params)``, ``on_create(input)``, ``on_wake()``,
    ``on_sleep()``, ``on_destroy()``, ``on_state_change(state)``, ``on_before_connect(params)``,
    ``on_connect(conn)``, ``on_disconnect(conn)``,
    ``on_before_action_response(name, args, output)``, ``migrate_state(old, from_version)``.

    Example::

        class Counter(Actor):
            state = {"count": 0}

            @action
            def increment(self, amount: int = 1) -> int:
                self.state["count"] += amount
                self.broadcast("count", self.state["count"])
                return self.state["count"]
    """

    name: ClassVar[str]
    options: ClassVar[ActorOptions] = ActorOptions()
    state_version: ClassVar[int] = 1
    migrations: ClassVar[Sequence[Any]] = ()
    _initial_state: ClassVar[Any] = _NO_STATE

    state: Any = _StateSlot()
    vars: Any

    _ak: ActorInstance

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = actor_name_for(cls.__name__)
        if "state" in cls.__dict__ and not isinstance(cls.__dict__["state"], _StateSlot):
            cls._initial_state = cls.__dict__["state"]
            cls.state = _StateSlot()
        if not isinstance(cls.options, ActorOptions):
            raise TypeError(f"{cls.__name__}.options must be an ActorOptions")
        from actorkit._runtime.migrations import check_migrations

        check_migrations(cls.__name__, cls.migrations)

    # -- metadata ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The actor's unique id."""
        return self._ak.record.id

    @property
    def key(self) -> Key:
        """The actor's key, a tuple of strings."""
        return self._ak.record.key

    @property
    def region(self) -> str | None:
        """The region the actor was created in, if any."""
        return self._ak.record.region

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger bound to this actor's name, key and id."""
        return self._ak.log

    @property
    def client(self) -> AsyncClient:
        """A client for calling other actors (the same API as ``actorkit.AsyncClient``)."""
        return self._ak.node.client

    @property
    def db(self) -> ActorDatabase:
        """The actor's own SQLite database (see ``docs/sql.md``).

        Example: ``rows = await self.db.fetch_all("SELECT * FROM todo WHERE done = ?", 0)``.
        """
        return self._ak.db

    @property
    def conn(self) -> Any:
        """The connection that made the current call; ``None`` for a stateless call."""
        return self._ak.current_conn()

    @property
    def conns(self) -> Mapping[str, Any]:
        """Live connections by id (each has ``id``, ``params``, ``state``, ``send``,
        ``disconnect``); includes connections whose client is reconnecting."""
        return MappingProxyType(self._ak.conns)

    @property
    def schedule(self) -> Schedule:
        """Durable timers: ``after(seconds, "action", *args)``, ``at(when, …)``, ``cancel``,
        ``get``, ``list``. They fire even if the actor sleeps or the process restarts."""
        return self._ak.schedule

    def now(self) -> float:
        """The current time in seconds since the epoch, on the runtime's clock.

        Use it instead of ``time.time()``: in tests ``actorkit.testing.MockClock`` controls
        it, so time-based logic (rate limits, expiry) is tested without waiting.
        """
        return self._ak.node.clock.now()

    # -- operations ----------------------------------------------------------------------

    def sleep(self) -> None:
        """Go to sleep once the current call finishes (state is saved first)."""
        self._ak.request_sleep()

    async def save_state(self, immediate: bool = True) -> None:
        """Persist the state now (and, with ``immediate``, wait until it is durable)."""
        await self._ak.save_state(wait=immediate)

    def destroy(self) -> None:
        """Delete this actor and all its data once the current call finishes.

        ``on_destroy`` runs first; afterwards the key is free and a re-create starts fresh.
        """
        self._ak.request_destroy()

    def broadcast(self, event: str, *args: Any) -> None:
        """Send ``event`` to every connection subscribed to it."""
        self._ak.broadcast(event, args)

    def keep_awake(self, awaitable: Awaitable[R]) -> Awaitable[R]:
        """Run ``awaitable`` and hold off sleep until it finishes."""
        return self._ak.keep_awake(awaitable)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in the background; sleep waits (within the grace budget) for it."""
        self._ak.wait_until(awaitable)
