"""``ActorInstance``: one awake actor — its turn (one action at a time), state, output gate.

Invariants:
- Only the holder of the actor's *turn* runs non-interleaved actions or hooks. A call chain
  that already holds the turn (A → B → A) re-enters it instead of waiting for it.
- A reply is released only after every write the caller could have observed is durable:
  the action's own batch, or — if it changed nothing — the latest batch in flight (the
  output gate). Writes are submitted in turn order and committed in submission order.
- An action that raises leaves no trace: state and staged writes are restored to the
  snapshot taken when its turn began.
- Every kind of turn (action, hook, scheduled call, connect/disconnect, create/wake,
  inspector edit) runs through ``turn()``: it is the one place that takes the turn,
  snapshots, commits, rolls back, gates the reply and honours sleep/destroy requests.
- A fenced write means another activation owns the actor: the instance turns ``LOST`` at
  once, serves nothing more, and its callers get the retryable ``ownership_lost``.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from actorkit._runtime import context
from actorkit._runtime.actor import Actor, actor_state, set_actor_state
from actorkit._runtime.blocking import call_on_loop, in_worker_thread, run_in_thread, watch
from actorkit._runtime.connections import ConnectionManager
from actorkit._runtime.db import ActorDatabase
from actorkit._runtime.definition import ActionSpec, ActorDefinition
from actorkit._runtime.idempotency import Entry, IdempotencyTable
from actorkit._runtime.lifecycle import NEXT, Lifecycle, Retry
from actorkit._runtime.persistence import StatePersistence
from actorkit._runtime.schedule import Schedule
from actorkit._runtime.state import (
    STATE_KEY,
    decode_value,
)
from actorkit._runtime.turnlock import TurnLock
from actorkit.errors import (
    ActorError,
    Code,
    FencedError,
    UserError,
    actor_not_found,
    from_user_error,
    ownership_lost,
)
from actorkit.protocol.messages import CLOSE_MOVED
from actorkit.storage.base import ActorRecord

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["ActorInstance", "Lifecycle", "Retry"]

T = TypeVar("T")

log = logging.getLogger("actorkit.actor")

_to_builtins = msgspec.to_builtins


class ActorInstance(StatePersistence):
    def __init__(
        self, node: Node, definition: ActorDefinition, record: ActorRecord, epoch: int
    ) -> None:
        self.node = node
        self.definition = definition
        self.record = record
        self.id = record.id
        self.epoch = epoch
        self.lifecycle = Lifecycle.LOADING
        self.log = logging.LoggerAdapter(
            log, {"actor": definition.name, "key": record.key, "actor_id": record.id}
        )
        self.woken_at = time.time()
        self.actor: Actor = definition.cls()
        self.actor._ak = self
        self.actor.vars = None
        self.conns: dict[str, Any] = {}
        self.connections = ConnectionManager(self)
        self.schedule = Schedule(self)
        self.idempotency = IdempotencyTable(self)  # outcomes of calls made with a key
        self.last_active = node.clock.now()

        self._lock = TurnLock()
        self._active_turn: int | None = None
        self._waiting = 0
        self._inflight = 0  # calls running now (serial or interleaved)
        self._persisted: bytes | None = None  # encoding of the last state submitted
        # True while the state is known to equal ``_persisted`` (no code has run since the
        # last change check), so a turn's snapshot can reuse it instead of encoding again.
        self._clean = False
        self._interleaving = 0
        self._staged: dict[bytes, bytes | None] = {}  # extra writes of the current turn
        self._last_write: asyncio.Future[None] | None = None
        self._relaxed_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._destroy_requested = False
        self._sleep_requested = False
        self._mark_initialized = False  # the next batch marks the actor created
        self._run_task: asyncio.Task[None] | None = None
        self.db = ActorDatabase(self)  # self.db; see _runtime/db.py

    # -- lifecycle ---------------------------------------------------------------------

    def _transition(self, to: Lifecycle) -> None:
        if to not in NEXT[self.lifecycle]:
            raise RuntimeError(f"illegal actor transition {self.lifecycle.value} → {to.value}")
        self.lifecycle = to

    @property
    def serving(self) -> bool:
        return self.lifecycle is Lifecycle.AWAKE

    @property
    def state(self) -> Any:
        """The actor's live state object (``_NO_STATE`` if it has none)."""
        return actor_state(self.actor)

    @state.setter
    def state(self, value: Any) -> None:
        set_actor_state(self.actor, value)

    async def start(self, data: dict[bytes, bytes]) -> None:
        """Load state and run the create/wake hooks as one turn; the actor serves once this
        returns (the caller honours sleep/destroy requests made meanwhile)."""
        data = await self.db.wake(data)  # migrations; newer state copy (db vs main store)
        for key, record in self.db.recovered.items():
            self.stage(key, record)  # written to the main store by the wake's own batch
        self.db.recovered = {}
        self.schedule.load(data)
        self.idempotency.load(data)
        await self.turn(self._create_or_wake, data, starting=True)
        self._transition(Lifecycle.AWAKE)
        self.connections.restore(data)
        self.emit("wake", created=not self.record.initialized)
        self.last_active = self.node.clock.now()
        self.schedule.arm()
        if "run" in self.definition.hooks:
            # A fresh context: run() is not part of the call that happened to wake the actor
            # (its call chain would let run() re-enter actors that call is inside).
            self._run_task = asyncio.get_running_loop().create_task(
                self._run_loop(), context=contextvars.Context()
            )

    async def _create_or_wake(self, data: dict[bytes, bytes]) -> None:
        d = self.definition
        if not self.record.initialized:
            input_ = None if self.record.input is None else decode_value(self.record.input, Any)
            if d.has_state:
                if "create_state" in d.hooks:
                    self.state = await self._hook("create_state", input_)
                else:
                    self.state = copy.deepcopy(d.cls._initial_state)
            if "on_create" in d.hooks:
                await self._hook("on_create", input_)
            self._mark_initialized = True
        elif d.has_state:
            self.state = await self._load_state(data.get(STATE_KEY))
        if d.has_state:
            d.state_type_for(self.state)
            # The change check at the end of this turn writes the state unless it is stored
            # in this version already and the hooks left it alone.
            self._persisted = self._stored_state_bytes(data)
        if "create_vars" in d.hooks:
            self.actor.vars = await self._hook("create_vars")
        if "on_wake" in d.hooks:
            await self._hook("on_wake")

    async def _run_loop(self) -> None:
        try:
            await self._call(self.actor.run)  # type: ignore[attr-defined]
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("run() raised")
        finally:
            await self._persist_changes()

    async def stop(self, *, destroy: bool = False) -> None:
        """Sleep (or destroy): finish in-flight work, run hooks, make state durable."""
        if self.lifecycle is not Lifecycle.AWAKE:
            return
        token = await self._acquire_turn()
        try:
            await self._shutdown(destroy=destroy)
        finally:
            if token is not None:
                self._release_turn(token)

    async def _shutdown(self, *, destroy: bool) -> None:
        """Stop while holding the turn: the last thing an instance does."""
        self._transition(Lifecycle.STOPPING)
        self.schedule.disarm()
        if self._run_task is not None:
            self._run_task.cancel()
            await asyncio.gather(self._run_task, return_exceptions=True)
        grace = self.definition.options.sleep_grace
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace)
        hook = "on_destroy" if destroy else "on_sleep"
        if hook in self.definition.hooks:
            try:
                await self._hook(hook, timeout=grace)
            except Exception:
                self.log.exception("%s raised", hook)
        for conn in list(self.conns.values()):
            close = getattr(conn, "close_for_stop", None)
            if close is not None:
                await close(destroy)
        if destroy:
            await self.db.close()
            await self.node.committer.flush()
            await self.node.driver.delete_actor(self.id, self.epoch)
            self._transition(Lifecycle.DESTROYED)
            self.emit("destroy")
        else:
            await self._persist_changes()
            await self._gate()
            await self.db.close()
            self._transition(Lifecycle.STOPPED)
            await self.node.driver.release(self.id, self.node.id, self.epoch)
            next_alarm = self.schedule.next_at()
            if next_alarm is not None:
                self.node.housekeeper.note_alarm(next_alarm)
            self.emit("sleep")
        for task in self._background:
            task.cancel()

    # -- the turn ------------------------------------------------------------------------

    async def _acquire_turn(self) -> Token[frozenset[int | str]] | None:
        """Take the actor's turn; ``None`` when the call chain already holds it (re-entry).

        Pair with ``_release_turn``.
        """
        chain = context.call_chain.get()
        if self._active_turn is not None and self._active_turn in chain:
            return None
        if not self._lock.try_acquire():
            if self._waiting >= self.definition.options.max_queue:
                raise ActorError(
                    "actor",
                    Code.OVERLOADED,
                    f"actor has {self._waiting} calls waiting; try again later",
                )
            self._waiting += 1
            try:
                await self._lock.acquire()
            finally:
                self._waiting -= 1
        turn = context.next_turn()
        self._active_turn = turn
        return context.call_chain.set(chain | {turn})

    def _release_turn(self, token: Token[frozenset[int | str]]) -> None:
        self.connections.on_turn_end()
        context.call_chain.reset(token)
        self._active_turn = None
        self._lock.release()

    # -- actions ---------------------------------------------------------------------------

    async def call(
        self,
        name: str,
        args: list[Any],
        conn: Any = None,
        params: Any = None,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run action ``name``; returns its output converted to builtins.

        A stateless call (no ``conn``) is checked by ``on_before_connect(params)`` first.
        With an ``idempotency_key`` a repeat of the call returns the first outcome without
        running the action again (see ``_runtime/idempotency.py``).
        """
        if not self.node.activity.active:
            return await self._dispatch(name, args, conn, params, idempotency_key, kwargs)
        started = time.perf_counter()
        try:
            output = await self._dispatch(name, args, conn, params, idempotency_key, kwargs)
        except ActorError as err:
            self.emit(
                "action",
                name=name,
                args=args,
                error=err.to_wire(),
                duration_ms=(time.perf_counter() - started) * 1e3,
            )
            raise
        self.emit(
            "action",
            name=name,
            args=args,
            output=output,
            duration_ms=(time.perf_counter() - started) * 1e3,
        )
        return output

    def _dispatch(
        self,
        name: str,
        args: list[Any],
        conn: Any,
        params: Any,
        key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        # Not a coroutine itself: the hot path awaits ``turn`` directly, one frame fewer.
        spec = self.definition.action(name)
        bound = spec.bind(args, kwargs)
        if key is not None:
            # The fingerprint tells keywords apart ("**" is in no action name).
            shape = (spec.name, args) if not kwargs else (spec.name + "**", [args, kwargs])
            return self._keyed_call(key, spec, bound, shape, conn, params)
        if conn is None and "on_before_connect" in self.definition.hooks:
            return self._guarded_call(spec, bound, {} if params is None else params)
        if spec.interleave:
            return self._outside_turn(self._invoke, spec, bound, conn)
        return self.turn(self._invoke, spec, bound, conn)

    async def _guarded_call(self, spec: ActionSpec, args: list[Any], params: Any) -> Any:
        """A stateless call to an actor with ``on_before_connect``: checked first."""
        await self._hook("on_before_connect", params)
        if spec.interleave:
            return await self._outside_turn(self._invoke, spec, args, None)
        return await self.turn(self._invoke, spec, args, None)

    async def _keyed_call(
        self,
        key: str,
        spec: ActionSpec,
        bound: list[Any],
        shape: tuple[str, list[Any]],
        conn: Any,
        params: Any,
    ) -> Any:
        """A call with an idempotency key: checked like any call, then run at most once."""
        if conn is None and "on_before_connect" in self.definition.hooks:
            await self._hook("on_before_connect", {} if params is None else params)

        def execute(entry: Entry) -> Awaitable[Any]:
            if spec.interleave:
                entry.must_persist = True  # its changes are not tracked by a turn
                return self._outside_turn(self._invoke_keyed, spec, bound, conn, entry)
            return self.turn(self._invoke_keyed, spec, bound, conn, entry)

        return await self.idempotency.run(key, *shape, execute)

    async def _invoke_keyed(
        self, spec: ActionSpec, args: list[Any], conn: Any, entry: Entry
    ) -> Any:
        output = await self._invoke(spec, args, conn)
        self.idempotency.finished(entry, output)  # joins this turn's batch (persistence.py)
        return output

    async def turn(
        self,
        body: Callable[..., Awaitable[T]],
        *args: Any,
        recover: Callable[[BaseException], None] | None = None,
        starting: bool = False,
    ) -> T:
        """Run ``body(*args)`` as one turn of the actor — every kind of turn comes through here.

        Takes the turn (or re-enters it: A → B → A), checks the actor serves, snapshots,
        runs ``body``, commits the database turn and submits the state batch. If anything
        raises, the database turn, state, staged writes, schedules and held events are
        rolled back; ``recover(error)`` may then record something (a schedule retry) that
        is persisted in the same turn, and the error propagates. Releases the turn, then
        holds the return until its writes are durable (the output gate), and carries out
        ``self.destroy()`` / ``self.sleep()`` requested in the turn.

        ``starting``: the create/wake turn of a loading instance (no snapshot: a failed
        start discards the instance).
        """
        self._inflight += 1
        try:
            token = await self._acquire_turn()
            try:
                if not starting and self.lifecycle is not Lifecycle.AWAKE:
                    self._check_serving()
                if token is None:
                    # Re-entry (A → B → A): runs in the outer turn, but a failure still
                    # leaves no trace, even if the outer action catches the error.
                    self._clean = False  # the outer action has run since its snapshot
                    nested = self._snapshot()
                    try:
                        return await body(*args)
                    except BaseException:
                        self._restore(nested)
                        raise
                snapshot = None if starting else self._snapshot()
                persisted = self._persisted
                try:
                    result = await body(*args)
                    await self._persist_changes()
                except BaseException as exc:
                    await self.db.rollback_turn()
                    if snapshot is not None:
                        if self._persisted is not persisted:
                            # An interleaved call persisted (and acknowledged) the state
                            # meanwhile: roll back to that state, not past it.
                            snapshot.state = self._persisted
                        self._restore(snapshot)
                    if isinstance(exc, FencedError):
                        self.node.lose(self)
                        raise ownership_lost(self.id) from None
                    if recover is not None and self.serving:
                        recover(exc)
                        await self._persist_changes()
                    raise
                if self._destroy_requested and self.serving:
                    # Through the node, so calls racing the shutdown wait for it
                    # instead of activating a second instance of this actor.
                    await self.node._retire(self, destroy=True, in_turn=True)
                    return result
            finally:
                if token is not None:
                    self._release_turn(token)
        finally:
            self._inflight -= 1
            self.last_active = self.node.clock.now()
        await self._gate()
        if self._sleep_requested and self.serving:
            self._sleep_requested = False
            self.node.sleep_soon(self)
        return result

    async def _outside_turn(self, body: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``body`` beside the turns (``interleave=True``, raw HTTP/WebSocket hooks): it
        counts as in-flight work, is not rolled back, and returns once its changes are
        durable."""
        self._check_serving()
        self._inflight += 1
        # A turn that starts meanwhile must snapshot the state as it is, not reuse
        # ``_persisted``, or its rollback would drop this call's change.
        self._clean = False
        self._interleaving += 1
        try:
            result = await body(*args)
            await self._persist_changes()
        finally:
            self._inflight -= 1
            self._interleaving -= 1
            self.last_active = self.node.clock.now()
        await self._gate()
        return result

    async def run_interleaved(
        self, label: str, fn: Callable[[Actor], Any], *, bounded: bool = True
    ) -> Any:
        """Run ``fn(self.actor)`` like an interleaved action: counts as in-flight work, is
        bounded by ``action_timeout`` (unless ``bounded=False``, e.g. a long-lived socket),
        persists the state it changed, and returns only once that change is durable.
        Used by raw ``on_request`` (and ``on_websocket``) hooks; the result is returned as-is.
        """
        timeout = self.definition.options.action_timeout if bounded else None

        async def body() -> Any:
            try:
                async with asyncio.timeout(timeout):
                    return await self._call(fn, self.actor)
            except Exception as exc:
                raise self._caller_error(exc, label, timeout) from None

        return await self._outside_turn(body)

    async def run_in_turn(self, fn: Callable[[Actor], Any]) -> Any:
        """Run ``fn(self.actor)`` as one turn, like a non-interleaved action: rolled back if
        it raises, its changes persisted and durable before this returns (the inspector's
        state edits, console and cancels). Exceptions propagate unchanged."""
        return await self.turn(self._call, fn, self.actor)

    def _check_serving(self) -> None:
        if self.lifecycle is Lifecycle.AWAKE:
            return
        if self.lifecycle is Lifecycle.DESTROYED:
            raise actor_not_found("actor was destroyed")
        if self.lifecycle is Lifecycle.LOST:
            raise ownership_lost(self.id)
        raise Retry

    def lose(self) -> None:
        """Another activation owns the actor now (a write was fenced): stop serving at once,
        write nothing more, and close the sockets so their clients reconnect — to wherever
        the actor lives now. Callers still waiting get ``ownership_lost``."""
        if self.lifecycle in (Lifecycle.STOPPED, Lifecycle.DESTROYED, Lifecycle.LOST):
            return
        self._transition(Lifecycle.LOST)
        self.log.warning("ownership lost: a newer activation of this actor took over")
        self.schedule.disarm()
        if self._relaxed_task is not None:
            self._relaxed_task.cancel()
            self._relaxed_task = None
        if self._run_task is not None:
            self._run_task.cancel()
        for task in self._background:
            task.cancel()
        self.connections.close_all(CLOSE_MOVED, "the actor moved; reconnect")
        self.db.close_soon()
        self.emit("lost")

    async def _invoke(self, spec: ActionSpec, args: list[Any], conn: Any) -> Any:
        # Set only when it changes: stateless calls (the common case) skip two calls.
        token = None
        if conn is not None or context.current_conn.get() is not None:
            token = context.current_conn.set(None if conn is None else (self.id, conn))
        timeout = spec.timeout or self.definition.options.action_timeout
        try:
            if spec.blocking:
                async with asyncio.timeout(timeout):
                    output = await run_in_thread(spec.fn, self.actor, *args)
            elif self.node.dev:
                output = watch(
                    self.log,
                    self.definition.cls.__name__,
                    spec.name,
                    "action",
                    spec.fn,
                    self.actor,
                    *args,
                )
            else:
                output = spec.fn(self.actor, *args)
            hook = "on_before_action_response" in self.definition.hooks
            # Only awaiting work can be timed out: a sync action never yields, so it does not
            # pay for arming a timer (the hot path of in-process calls).
            if spec.is_async or hook or inspect.isawaitable(output):
                async with asyncio.timeout(timeout):
                    if inspect.isawaitable(output):
                        output = await output
                    if hook:
                        output = await self._call(
                            self.actor.on_before_action_response,  # type: ignore[attr-defined]
                            spec.name,
                            args,
                            output,
                        )
        except Exception as exc:
            raise self._caller_error(exc, f"action {spec.name!r}", timeout) from None
        finally:
            if token is not None:
                context.current_conn.reset(token)
        try:
            return _to_builtins(output)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ActorError(
                "actor",
                Code.OUTPUT_NOT_SERIALIZABLE,
                f"action {spec.name!r} returned a value that cannot be serialized: {exc}",
                {"action": spec.name},
            ) from None

    def _caller_error(self, exc: Exception, label: str, timeout: float | None) -> Exception:
        """What the caller sees when actor code raised ``exc`` (call it in the except block).

        A timeout becomes ``action_timeout``; an ``ActorError`` passes through; a
        ``UserError`` keeps its code and metadata; anything else is logged here and reaches
        the caller as ``internal_error`` without details.
        """
        if isinstance(exc, TimeoutError):
            name = label.removeprefix("action ").strip("'")
            return ActorError(
                "actor",
                Code.ACTION_TIMEOUT,
                f"{label} timed out after {timeout} s",
                {"action": name, "timeout": timeout},
            )
        if isinstance(exc, ActorError):
            return exc
        if isinstance(exc, UserError):
            return from_user_error(exc)
        self.log.exception("%s: %s raised %s", self.describe(), label, type(exc).__name__)
        err = self.node.sanitize_error()
        if self.node.dev:  # never in serve: exception text can hold secrets
            err.message = f"{label} raised {type(exc).__name__}: {exc}"
            err.metadata = {
                "exception": type(exc).__name__,
                "detail": str(exc),
                "actor": self.definition.name,
                "key": list(self.record.key),
                "actor_id": self.id,
                "where": label,
            }
        return err

    def describe(self) -> str:
        """``Shop ['a'] (actor id)``: the actor as log lines name it."""
        return f"{self.definition.cls.__name__} {list(self.record.key)!r} ({self.id})"

    def current_conn(self) -> Any:
        current = context.current_conn.get()
        if current is None or current[0] != self.id:
            return None
        return current[1]

    # -- hooks -------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _hook(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        """Run hook ``name``; a failure becomes an ``ActorError`` that names the hook."""
        budget = timeout or self.definition.options.hook_timeout
        if name in ("create_state", "on_create", "migrate_state", "on_state_change"):
            budget = max(budget, self.definition.options.action_timeout or budget)
        try:
            async with asyncio.timeout(budget):
                hook = getattr(self.actor, name)
                if getattr(hook, "__actorkit_blocking__", False):  # @blocking
                    return await run_in_thread(hook, *args)
                if self.node.dev:
                    actor_type = self.definition.cls.__name__
                    return await self._call(watch, self.log, actor_type, name, "hook", hook, *args)
                return await self._call(hook, *args)
        except TimeoutError:
            raise ActorError(
                "actor", Code.HOOK_FAILED, f"{name} timed out after {budget} s", {"hook": name}
            ) from None
        except (ActorError, asyncio.CancelledError):
            raise
        except UserError as exc:
            raise from_user_error(exc) from None
        except Exception as exc:
            self.log.exception("%s: %s raised %s", self.describe(), name, type(exc).__name__)
            err = ActorError("actor", Code.HOOK_FAILED, f"{name} raised", {"hook": name})
            if self.node.dev:
                err.message = f"{name} raised {type(exc).__name__}: {exc}"
            raise err from None

    # -- events, background work -----------------------------------------------------------

    def emit(self, kind: str, **data: Any) -> None:
        """Publish an activity event about this actor (no-op while nobody listens)."""
        self.node.activity.emit(
            kind, self.id, self.definition.name, key=list(self.record.key), **data
        )

    def broadcast(self, event: str, args: tuple[Any, ...]) -> None:
        if self.node.activity.active:
            data = _to_builtins(list(args))
            if in_worker_thread():  # a blocking action: the listeners live on the loop
                call_on_loop(lambda: self.emit("broadcast", event=event, args=data))
            else:
                self.emit("broadcast", event=event, args=data)
        self.connections.broadcast(event, args)

    def keep_awake(self, awaitable: Awaitable[T]) -> Awaitable[T]:
        future = asyncio.ensure_future(awaitable)
        self._background.add(future)
        future.add_done_callback(self._background.discard)
        return future

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        self.keep_awake(awaitable)

    def request_destroy(self) -> None:
        self._destroy_requested = True

    def request_sleep(self) -> None:
        self._sleep_requested = True

    def should_sleep(self, now: float) -> bool:
        """Idle long enough to sleep: nothing running, no connections, no kept-awake work."""
        options = self.definition.options
        return (
            self.lifecycle is Lifecycle.AWAKE
            and not options.no_sleep
            and self._inflight == 0
            and not self._lock.locked
            and not self._background
            and not any(not getattr(c, "hibernatable", False) for c in self.conns.values())
            and (self._run_task is None or self._run_task.done())
            and now - self.last_active >= options.sleep_timeout
        )
