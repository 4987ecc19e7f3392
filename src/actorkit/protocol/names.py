"""Names an action cannot have: the clients' own members.

A handle or connection turns any unknown attribute into an action call
(``handle.increment(1)``), so an action named like one of its members would be shadowed:
``handle.destroy()`` would destroy the actor instead of calling a ``destroy`` action. The
runtime refuses such names when an actor class is registered. ``tests/test_dx_actions_names``
checks that this table covers every public member of the Python handles and connections
and of the browser client's classes.
"""

from __future__ import annotations

__all__ = ["RESERVED_ACTION_NAMES"]

_PY_HANDLE = ["resolve", "action", "connect", "destroy", "fetch", "name", "key", "params"]
_PY_CONNECTION = [
    "open",
    "aclose",
    "close",
    "action",
    "on",
    "once",
    "events",
    "on_open",
    "on_close",
    "on_error",
    "id",
    "status",
    "params",
    "actor_id",
]
_JS_HANDLE = ["resolve", "action", "connect", "client", "name", "key", "params", "then"]
_JS_CONNECTION = [
    "action",
    "on",
    "once",
    "onOpen",
    "onClose",
    "onError",
    "onStatusChange",
    "dispose",
    "handle",
    "params",
    "status",
    "id",
    "actorId",
    "then",
]
# A JavaScript Proxy sees every object's inherited members as present (`prop in target`).
_JS_OBJECT = [
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
]

#: Reserved name → the client member it would be shadowed by.
RESERVED_ACTION_NAMES: dict[str, str] = {
    **{n: f"the browser client's object member {n}" for n in _JS_OBJECT},
    **{n: f"the browser client's ActorConnection.{n}" for n in _JS_CONNECTION},
    **{n: f"the browser client's ActorHandle.{n}" for n in _JS_HANDLE},
    **{n: f"ActorConnection.{n}" for n in _PY_CONNECTION},
    **{n: f"ActorHandle.{n}" for n in _PY_HANDLE},
}
