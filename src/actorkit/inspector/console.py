"""The dev-mode console: Python evaluated inside an actor, with ``self`` bound to it.

The code runs as one turn of the actor (like an action: serialized with other calls, state
changes persisted, everything rolled back if it raises). Top-level ``await`` works. The
value of a final expression is returned as its ``repr``; ``print`` output is captured.
``self.db`` statements run here come from outside the actor: the authorizer of
``_runtime/db_authorizer.py`` refuses ``ATTACH``, setting PRAGMAs and the like with
``sql_not_allowed``. That is a guard rail against mistakes, not a sandbox: the console runs
Python, which is why it exists only in dev mode.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import io
import traceback
from typing import TYPE_CHECKING, Any

from actorkit._runtime.db_authorizer import outside_statements
from actorkit.errors import ActorError

if TYPE_CHECKING:
    from actorkit._runtime.actor import Actor
    from actorkit._runtime.node import Node

__all__ = ["MAX_REPR", "evaluate"]

MAX_REPR = 64 * 1024
_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


async def _run(code: Any, namespace: dict[str, Any]) -> Any:
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:
        result = await result
    return result


async def _execute(source: str, namespace: dict[str, Any]) -> Any:
    tree = ast.parse(source, "<console>", "exec")
    last: ast.expr | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop().value  # type: ignore[attr-defined]
    if tree.body:
        await _run(compile(tree, "<console>", "exec", flags=_FLAGS), namespace)
    if last is None:
        return None
    expr = ast.Expression(last)
    return await _run(compile(expr, "<console>", "eval", flags=_FLAGS), namespace)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "… (truncated)"


async def evaluate(node: Node, actor_id: str, source: str) -> dict[str, Any]:
    """``{"ok", "repr" | "error", "stdout"}`` for ``source`` run inside ``actor_id``."""
    out = io.StringIO()

    async def run(actor: Actor) -> Any:
        namespace: dict[str, Any] = {
            "self": actor,
            "print": functools.partial(print, file=out),
            "asyncio": asyncio,
        }
        timeout = actor._ak.definition.options.action_timeout
        with outside_statements(actor.db):
            async with asyncio.timeout(timeout):
                return await _execute(source, namespace)

    try:
        value = await node.run_in_turn(actor_id, run)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except ActorError as err:
        if err.group == "actor" and err.code in ("actor_not_found", "actor_stopping"):
            raise
        return {"ok": False, "error": f"{err.code}: {err.message}", "stdout": _clip(out.getvalue())}
    except BaseException as exc:
        lines = traceback.format_exception(exc)
        # Drop the frames of the console machinery; keep the user's code.
        text = "".join(
            line
            for line in lines
            if not line.startswith('  File "') or line.startswith('  File "<console>"')
        )
        return {"ok": False, "error": _clip(text), "stdout": _clip(out.getvalue())}
    return {"ok": True, "repr": _clip(repr(value)), "stdout": _clip(out.getvalue())}
