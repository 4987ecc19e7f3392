"""What the runtime knows about an actor class: its actions, hooks and state type.

Built once per class when it is registered, so the hot path does no introspection.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from actorkit._runtime.actor import _NO_STATE, ActionMethod, Actor
from actorkit._runtime.auth import Authenticator
from actorkit.errors import ActorError, Code, validation_error
from actorkit.protocol.names import RESERVED_ACTION_NAMES

__all__ = ["ActionSpec", "ActorDefinition", "Param"]

HOOKS = (
    "authenticate",
    "create_state",
    "create_vars",
    "create_conn_state",
    "on_create",
    "on_wake",
    "on_sleep",
    "on_destroy",
    "on_state_change",
    "on_before_connect",
    "on_connect",
    "on_disconnect",
    "on_before_action_response",
    "on_request",
    "on_websocket",
    "migrate_state",
    "run",
)

_EMPTY = inspect.Parameter.empty


@dataclass(slots=True)
class Param:
    name: str
    type: Any  # None when unannotated or Any: passed through
    default: Any
    kind: inspect._ParameterKind
    checked: Any = dataclasses.field(init=False)  # ``type``, limited to storable values

    def __post_init__(self) -> None:
        self.checked = None if self.type is None else storable(self.type)

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


class ActionSpec:
    """One action: how to validate its arguments and call it."""

    def __init__(self, name: str, method: ActionMethod[Any, Any]) -> None:
        self.name = name
        self.fn = method.fn
        self.interleave = method.config.interleave
        self.timeout = method.config.timeout
        self.internal = method.config.internal  # callable from inside the app only
        self.is_async = inspect.iscoroutinefunction(self.fn)
        self.blocking = method.config.blocking or hasattr(self.fn, "__actorkit_blocking__")
        if self.blocking and (self.is_async or self.interleave):
            raise TypeError(
                f"action {name!r}: blocking=True runs a plain `def` in a worker thread with "
                "the turn held; it cannot be async or interleave=True (in an async action, "
                "run the blocking part with `await asyncio.to_thread(...)`)"
            )
        hints = _type_hints(self.fn)
        sig = inspect.signature(self.fn)
        self.params: list[Param] = []
        self.var_positional: Param | None = None
        for p in list(sig.parameters.values())[1:]:  # skip self
            hint = hints.get(p.name)
            param = Param(p.name, None if hint in (None, Any) else hint, p.default, p.kind)
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                self.var_positional = param
            elif p.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            elif p.kind is inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(
                    f"action {name!r}: keyword-only parameter {p.name!r} is not supported; "
                    "drop the '*' (any parameter before it can be passed by keyword)"
                )
            elif p.name == "idempotency_key":
                raise TypeError(
                    f"action {name!r}: a parameter cannot be named 'idempotency_key': the "
                    "clients take that keyword for the call's own idempotency key"
                )
            else:
                self.params.append(param)
        ret = hints.get("return")
        self.return_type: Any = None if ret in (None, Any, type(None)) else ret
        self._positions = {  # parameters that may be passed by keyword
            p.name: i
            for i, p in enumerate(self.params)
            if p.kind is not inspect.Parameter.POSITIONAL_ONLY
        }

    def bind(
        self, args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any] | None = None
    ) -> list[Any]:
        """Validate and convert ``args`` and keyword ``kwargs`` into the positional
        arguments of the function; raises ``validation_error``."""
        if not isinstance(args, list | tuple):
            raise validation_error("action arguments must be a list")
        n = len(args)
        if n > len(self.params) and self.var_positional is None:
            raise validation_error(
                f"action {self.name!r} takes {len(self.params)} argument(s), got {n}",
                {"action": self.name},
            )
        last = n - 1  # the last parameter given, positionally or by keyword
        if kwargs:
            last = max(last, self._keyword_positions(n, kwargs))
        out: list[Any] = []
        for i, param in enumerate(self.params):
            if i < n:
                out.append(_convert(self.name, param, args[i]))
            elif kwargs and param.name in kwargs:
                out.append(_convert(self.name, param, kwargs[param.name]))
            elif param.required:
                raise validation_error(
                    f"action {self.name!r}: missing argument {param.name!r}",
                    {"action": self.name, "param": param.name},
                )
            elif i < last:
                out.append(param.default)  # a gap before a keyword argument
            else:
                break  # the function's own defaults apply to the rest
        if self.var_positional is not None:
            out.extend(_convert(self.name, self.var_positional, a) for a in args[len(out) :])
        return out

    def _keyword_positions(self, n: int, kwargs: Any) -> int:
        """The position of the last parameter ``kwargs`` names; checks each name."""
        if not isinstance(kwargs, dict):
            raise validation_error("action keyword arguments must be an object")
        last = -1
        for name in kwargs:
            i = self._positions.get(name)
            if i is None:
                raise validation_error(
                    f"action {self.name!r} has no parameter {name!r}",
                    {"action": self.name, "param": name},
                )
            if i < n:
                raise validation_error(
                    f"action {self.name!r}: argument {name!r} given by position and by keyword",
                    {"action": self.name, "param": name},
                )
            last = max(last, i)
        return last


#: The integers an ``int`` argument accepts: 64-bit signed. JSON can spell bigger ones,
#: which the wire (msgpack) and the stored state could not carry.
StorableInt = typing.Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


def storable(hint: Any) -> Any:
    """``hint`` with every ``int`` in it (alone, or in a list, tuple, set, dict or union)
    limited to the integers that can be stored: a bigger one from a JSON client is a
    ``validation_error``, not a state that cannot be saved."""
    if hint is int:
        return StorableInt
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if not args or origin is typing.Annotated or origin is typing.Literal:
        return hint
    limited = tuple(storable(arg) if arg is not Ellipsis else arg for arg in args)
    if limited == args:
        return hint
    if origin in (typing.Union, types.UnionType):
        return typing.Union[limited]  # noqa: UP007 (rebuilt from parts)
    try:
        return origin[limited]
    except TypeError:
        return hint


def _convert(action: str, param: Param, value: Any) -> Any:
    if param.checked is None:
        return value
    try:
        return msgspec.convert(value, param.checked, from_attributes=True)
    except msgspec.ValidationError as exc:
        raise validation_error(
            f"action {action!r}: invalid argument {param.name!r}: {exc}",
            {"action": action, "param": param.name},
        ) from None


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve type hints of {fn.__qualname__}: {exc}") from exc


def _authenticator(cls: type[Actor]) -> Authenticator | None:
    """The class's ``authenticate`` hook: a static method, as it runs before any instance
    exists (see ``actorkit._runtime.auth``)."""
    for klass in cls.__mro__:
        if "authenticate" in vars(klass):
            hook = vars(klass)["authenticate"]
            if not isinstance(hook, staticmethod):
                raise TypeError(
                    f"{cls.__name__}.authenticate must be a @staticmethod: it runs before "
                    "the actor is created or woken, so it has no self"
                )
            fn: Authenticator = hook.__func__
            return fn
    return None


def _is_structured(t: Any) -> bool:
    return isinstance(t, type) and (
        issubclass(t, msgspec.Struct)
        or dataclasses.is_dataclass(t)
        or hasattr(t, "__attrs_attrs__")
    )


def _declared_state_type(cls: type[Actor]) -> Any:
    """The typed-state class known from the class alone: the type of ``state = …`` or the
    return annotation of ``create_state``. Without it, a process that loads persisted state
    before it has seen any state value would decode a Struct/dataclass as a plain dict."""
    initial = cls._initial_state
    if initial is not _NO_STATE and initial is not None:
        return type(initial) if _is_structured(type(initial)) else None
    create_state = getattr(cls, "create_state", None)
    if create_state is None:
        return None
    try:
        ret = typing.get_type_hints(create_state).get("return")
    except Exception:  # unresolvable forward reference: learn from the first value instead
        return None
    return ret if _is_structured(ret) else None


def _check_action_name(cls: type[Actor], attr: str) -> None:
    """Refuse an action name the clients or the ``Actor`` base class already use."""
    why = None
    if attr.startswith("_") or attr in HOOKS:
        why = "names starting with '_' and hook names are not actions"
    elif attr in RESERVED_ACTION_NAMES:
        why = (
            f"it is a client method ({RESERVED_ACTION_NAMES[attr]}), so handle.{attr}(...) "
            "would not call the action"
        )
    elif hasattr(Actor, attr):
        why = f"it would replace Actor.{attr}, which actorkit and your actor rely on"
    if why is not None:
        raise TypeError(f"{cls.__name__}.{attr} cannot be an action: {why}; rename it")


class ActorDefinition:
    """A registered actor class, introspected."""

    def __init__(self, cls: type[Actor]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Actor)) or cls is Actor:
            raise TypeError(f"{cls!r} is not an Actor subclass")
        self.cls = cls
        self.name: str = cls.name
        self.options = cls.options
        self.actions: dict[str, ActionSpec] = {}
        for attr in dir(cls):
            value = inspect.getattr_static(cls, attr)
            if isinstance(value, ActionMethod):
                _check_action_name(cls, attr)
                self.actions[attr] = ActionSpec(attr, value)
        self.hooks = {h for h in HOOKS if callable(getattr(cls, h, None))}
        self.internal_actions = frozenset(n for n, a in self.actions.items() if a.internal)
        self.authenticate: Authenticator | None = _authenticator(cls)
        self.has_state = cls._initial_state is not _NO_STATE or ("create_state" in self.hooks)
        self.state_type: Any = _declared_state_type(cls)  # else learnt from the first value
        self.state_version: int = cls.state_version

    def state_type_for(self, value: Any) -> Any:
        """The type to decode persisted state into, derived from a state value."""
        if self.state_type is None:
            t = type(value)
            structured = (
                isinstance(value, msgspec.Struct)
                or dataclasses.is_dataclass(value)
                or hasattr(t, "__attrs_attrs__")
            )
            self.state_type = t if structured else Any
        return self.state_type

    def action(self, name: str, *, outside: bool = False) -> ActionSpec:
        """The action ``name``; ``action_not_found`` if there is none — or, for a call from
        ``outside`` the app (a client), if it is internal: it does not exist for them."""
        spec = self.actions.get(name)
        if spec is None or (outside and spec.internal):
            raise ActorError(
                "actor",
                Code.ACTION_NOT_FOUND,
                f"actor {self.name!r} has no action {name!r}",
                {"action": name},
            )
        return spec
