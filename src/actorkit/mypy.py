"""A mypy plugin that gives typed actor handles the signatures of their actions.

Enable it in your mypy configuration::

    [tool.mypy]
    plugins = ["actorkit.mypy"]

Then, for ``class Counter(Actor)`` with ``def increment(self, amount: int = 1) -> int``::

    handle = client.get_or_create(Counter, "k")   # ActorHandle[Counter]
    handle.increment                              # (amount: int = ...) -> Coroutine[Any, Any, int]
    sync_client.get_or_create(Counter, "k").increment   # (amount: int = ...) -> int

A name that is not an action of the class is reported as an error.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import ARG_POS, CallExpr, Decorator, Expression, RefExpr
from mypy.plugin import AttributeContext, Plugin
from mypy.types import AnyType, CallableType, Instance, Type, TypeOfAny, get_proper_type

__all__ = ["ActorkitPlugin", "plugin"]

_ASYNC_HANDLE = "actorkit.client.base.ActorHandle"
_SYNC_HANDLE = "actorkit.client.sync.SyncActorHandle"
_ACTION = "actorkit._runtime.actor.action"


def _is_action_decorator(expr: Expression) -> bool:
    if isinstance(expr, CallExpr):
        expr = expr.callee
    return isinstance(expr, RefExpr) and expr.fullname == _ACTION


def _action_type(ctx: AttributeContext, name: str, sync: bool) -> Type:
    handle = get_proper_type(ctx.type)
    if not isinstance(handle, Instance) or not handle.args:
        return ctx.default_attr_type
    actor = get_proper_type(handle.args[0])
    if not isinstance(actor, Instance):
        return ctx.default_attr_type  # ActorHandle[Any]: addressed by name, untyped
    node = actor.type.get(name)
    decorator = node.node if node is not None else None
    if not isinstance(decorator, Decorator) or not any(
        _is_action_decorator(d) for d in decorator.original_decorators
    ):
        ctx.api.fail(f'"{actor.type.name}" has no action "{name}"', ctx.context)
        return AnyType(TypeOfAny.from_error)
    fn = decorator.func.type
    if not isinstance(fn, CallableType):
        return ctx.default_attr_type  # unannotated action
    ret = get_proper_type(fn.ret_type)
    if decorator.func.is_coroutine and isinstance(ret, Instance) and len(ret.args) == 3:
        ret = get_proper_type(ret.args[2])  # async def: Coroutine[Any, Any, T] → T
    if not sync:
        any_t = AnyType(TypeOfAny.special_form)
        ret = ctx.api.named_generic_type("typing.Coroutine", [any_t, any_t, ret])
    skip = 1 if fn.arg_kinds and fn.arg_kinds[0] == ARG_POS else 0  # self
    return fn.copy_modified(
        arg_types=fn.arg_types[skip:],
        arg_kinds=fn.arg_kinds[skip:],
        arg_names=fn.arg_names[skip:],
        ret_type=ret,
        name=name,
    )


class ActorkitPlugin(Plugin):
    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        owner, _, name = fullname.rpartition(".")
        if name.startswith("_"):
            return None
        if owner == _ASYNC_HANDLE:
            return lambda ctx: _action_type(ctx, name, sync=False)
        if owner == _SYNC_HANDLE:
            return lambda ctx: _action_type(ctx, name, sync=True)
        return None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return ActorkitPlugin
