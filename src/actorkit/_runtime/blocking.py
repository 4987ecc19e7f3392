"""Actor code that blocks: run it in a worker thread, and find it in dev mode.

``@action(blocking=True)`` runs a sync action's body with ``run_in_thread``. Invariants:

- The body runs while its turn is held, and the turn is released only once the thread has
  returned — even when the call timed out or was cancelled meanwhile (a thread cannot be
  interrupted). So nothing else runs on the actor while the thread may touch it, except
  ``interleave=True`` actions, exactly as around any ``await`` in an async action.
- The thread runs in a copy of the caller's context, so ``self.conn`` and the call chain are
  those of the call, and what it broadcasts is held until the turn's writes are durable,
  like any event of a turn.

In dev mode, ``watch`` times each step a sync or async action or hook runs on the event loop
and logs one line naming the actor type, the action or hook, and the fix, for every step
longer than ``SLOW_STEP`` seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["SLOW_STEP", "call_on_loop", "in_worker_thread", "run_in_thread", "watch"]

#: A step of actor code on the event loop longer than this is reported in dev mode.
SLOW_STEP = 0.1

#: Threads for blocking actor code, apart from the default executor that storage I/O uses:
#: a few sleeping actions must not hold up every actor's commits.
MAX_THREADS = 64

_executor: ThreadPoolExecutor | None = None
_workers = threading.local()


def in_worker_thread() -> bool:
    """True in the worker thread of a blocking action."""
    return getattr(_workers, "active", False)


def call_on_loop(fn: Callable[[], Any]) -> None:
    """From a blocking action's thread: run ``fn()`` on the event loop, soon."""
    _workers.loop.call_soon_threadsafe(fn)


def _run_marked(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], args: tuple[Any, ...]
) -> Any:
    _workers.active = True
    _workers.loop = loop
    try:
        return fn(*args)
    finally:
        _workers.active = False
        _workers.loop = None


async def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a worker thread; return (or raise) what it does, only once it
    has finished — a timeout or cancellation is raised after the thread returns."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="actorkit-blocking")
    ctx = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_executor, ctx.run, _run_marked, loop, fn, args)
    try:
        return await asyncio.shield(future)
    except BaseException:
        # The turn must stay held while the thread can still change the actor.
        while not future.done():
            try:
                await asyncio.wait([future])
            except asyncio.CancelledError:
                continue
        raise


def watch(
    log: logging.LoggerAdapter[logging.Logger],
    actor_type: str,
    name: str,
    kind: str,
    fn: Callable[..., Any],
    *args: Any,
) -> Any:
    """Dev mode: call ``fn(*args)`` (an action or hook, ``kind``), timing each step it runs
    on the event loop; a coroutine result is returned wrapped so its steps are timed too."""
    started = time.perf_counter()
    result = fn(*args)
    if inspect.iscoroutine(result):
        return _Timed(result, lambda took: _report(log, actor_type, name, kind, took, True))
    _report(log, actor_type, name, kind, time.perf_counter() - started, False)
    return result


def _report(
    log: logging.LoggerAdapter[logging.Logger],
    actor_type: str,
    name: str,
    kind: str,
    took: float,
    is_async: bool,
) -> None:
    if took < SLOW_STEP:
        return
    if is_async:
        fix = "await the slow part (e.g. `await asyncio.to_thread(fn, ...)`)" + (
            " or make it a plain def marked @action(blocking=True)" if kind == "action" else ""
        )
    elif kind == "action":
        fix = "make it async or mark it @action(blocking=True)"
    else:
        fix = "make it async and await the slow part (e.g. `await asyncio.to_thread(fn, ...)`)"
    log.warning("`%s.%s` blocked the event loop for %.1f s; %s", actor_type, name, took, fix)


class _Timed:
    """Awaits a coroutine step by step, reporting how long each step ran."""

    __slots__ = ("_coro", "_report")

    def __init__(self, coro: Coroutine[Any, Any, Any], report: Callable[[float], None]) -> None:
        self._coro = coro
        self._report = report

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        value: Any = None
        error: BaseException | None = None
        while True:
            started = time.perf_counter()
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                self._report(time.perf_counter() - started)
                return stop.value
            except BaseException:
                self._report(time.perf_counter() - started)
                raise
            self._report(time.perf_counter() - started)
            try:
                value, error = (yield yielded), None
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                value, error = None, exc
