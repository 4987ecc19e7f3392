"""How an ``ActorInstance`` keeps its state durable: snapshots, change detection, write
batches and the output gate. A mixin of ``ActorInstance``, split out to keep one job per
module; its methods run with the instance as ``self``.

Invariants (see also ``instance.py``):
- ``_persisted`` is the encoding of the last state submitted for writing; a change check
  compares against it, so an unchanged state is never written.
- Writes are submitted in turn order and committed in submission order; ``_last_write`` is
  the newest, and ``_gate`` waits for it before a reply is released.
- A failed turn is restored to its ``_Snapshot``: state, staged writes, schedules, events.
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from actorkit._runtime.actor import _NO_STATE, actor_state, set_actor_state
from actorkit._runtime.lifecycle import Lifecycle
from actorkit._runtime.schedule import ScheduledCall
from actorkit._runtime.state import (
    STATE_KEY,
    decode_state,
    decode_value,
    encode_envelope,
    encode_state,
)
from actorkit.errors import (
    ActorError,
    Code,
    FencedError,
    StorageError,
    StorageUnavailable,
    ownership_lost,
    storage_failure,
)
from actorkit.storage.base import WriteBatch

if TYPE_CHECKING:
    import logging

    from actorkit._runtime.actor import Actor
    from actorkit._runtime.connections import ConnectionManager
    from actorkit._runtime.db import ActorDatabase
    from actorkit._runtime.definition import ActorDefinition
    from actorkit._runtime.idempotency import Entry, IdempotencyTable
    from actorkit._runtime.node import Node
    from actorkit._runtime.schedule import Schedule

__all__ = ["StatePersistence"]


class StatePersistence:
    """State persistence for ``ActorInstance`` (mixin)."""

    if TYPE_CHECKING:  # provided by ActorInstance
        id: str
        epoch: int
        node: Node
        definition: ActorDefinition
        actor: Actor
        lifecycle: Lifecycle
        schedule: Schedule
        connections: ConnectionManager
        db: ActorDatabase
        idempotency: IdempotencyTable
        _active_turn: int | None
        log: logging.LoggerAdapter[logging.Logger]
        _persisted: bytes | None
        _clean: bool
        _interleaving: int
        _staged: dict[bytes, bytes | None]
        _last_write: asyncio.Future[None] | None
        _relaxed_task: asyncio.Task[None] | None
        _background: set[asyncio.Future[Any]]
        _run_task: asyncio.Task[None] | None
        _destroy_requested: bool
        _sleep_requested: bool
        _mark_initialized: bool

        def emit(self, kind: str, **data: Any) -> None: ...

        async def _hook(self, name: str, *args: Any, timeout: float | None = None) -> Any: ...

    def _stored_state_bytes(self, data: dict[bytes, bytes]) -> bytes | None:
        stored = data.get(STATE_KEY)
        if stored is None:
            return None
        version, raw = decode_state(stored)
        return raw if version == self.definition.state_version else None

    async def _load_state(self, stored: bytes | None) -> Any:
        d = self.definition
        if stored is None:
            return copy.deepcopy(d.cls._initial_state)
        version, raw = decode_state(stored)
        if version == d.state_version:
            if d.state_type is None:
                # Learn the state type from the class's initial state, if it has one.
                initial = d.cls._initial_state
                if initial is not _NO_STATE and initial is not None:
                    d.state_type_for(initial)
            return decode_value(raw, d.state_type or Any)
        if version > d.state_version:
            raise StorageError(
                f"actor {d.name!r} has state version {version}, newer than the class's "
                f"state_version {d.state_version}"
            )
        if "migrate_state" not in d.hooks:
            raise ActorError(
                "actor",
                Code.HOOK_FAILED,
                f"actor {d.name!r}: persisted state_version {version} < {d.state_version} "
                "and no migrate_state hook is defined",
            )
        return await self._hook("migrate_state", decode_value(raw, Any), version)

    def _snapshot(self) -> _Snapshot:
        state = None
        if self.definition.has_state:
            quiet = (
                self._clean
                and not self._interleaving
                and not self._background
                and (self._run_task is None or self._run_task.done())
            )
            state = self._persisted if quiet else None
            if state is None:
                state = encode_state(actor_state(self.actor))
        snapshot = _Snapshot(
            state, dict(self._staged), dict(self.schedule.calls), self.schedule.alarm_dirty
        )
        snapshot.events = self.connections.mark()
        snapshot.outcomes = len(self.idempotency.unsaved)
        return snapshot

    def _restore(self, snapshot: _Snapshot) -> None:
        if snapshot.state is not None:
            set_actor_state(
                self.actor, decode_value(snapshot.state, self.definition.state_type or Any)
            )
        self._clean = snapshot.state is not None and snapshot.state is self._persisted
        self._staged = snapshot.staged
        self.schedule.calls = snapshot.schedules
        self.schedule.alarm_dirty = snapshot.alarm_dirty
        self._destroy_requested = False
        self.connections.on_rollback(snapshot.events)
        del self.idempotency.unsaved[snapshot.outcomes :]
        self._sleep_requested = False

    def stage(self, key: bytes, value: bytes | None) -> None:
        """Add a write (``None`` deletes) to the current turn's batch."""
        self._staged[key] = value

    async def _persist_changes(self) -> None:
        """Submit the state (if it changed) and staged writes as one batch.

        Raises ``state_not_serializable`` (the caller rolls back) if the state cannot be
        encoded. In relaxed mode state is written later by a timer.
        """
        d = self.definition
        outcomes = self.idempotency.take_unsaved() if self.idempotency.unsaved else None
        wrote_db = False
        if self.db.turn_open:
            # Before the state batch (see _runtime/db.py), with the outcomes of this turn's
            # idempotent calls: the database's writes and the outcomes are durable together.
            await self.db.commit_turn(
                {e.storage_key: e.record for e in outcomes if e.record is not None}
                if outcomes
                else None
            )
            committed = self.db._committed_turn  # this turn wrote to the database
            wrote_db = committed is not None and committed == self._active_turn
        if self.connections.dirty:
            self.connections.stage_changes()
        encoded: bytes | None = None
        self._clean = False
        if d.has_state:
            encoded = encode_state(actor_state(self.actor))
            if encoded == self._persisted:
                encoded = None
            elif "on_state_change" in d.hooks and self.lifecycle is not Lifecycle.LOADING:
                await self._hook("on_state_change", actor_state(self.actor))
                if encode_state(actor_state(self.actor)) != encoded:
                    raise ActorError(
                        "actor",
                        Code.HOOK_FAILED,
                        "on_state_change must not change the state",
                    )
        self._clean = True
        if (
            encoded is not None
            and self.node.activity.active
            and self.lifecycle is not Lifecycle.LOADING
        ):
            self.emit("state", state=decode_value(encoded, Any))
        relaxed = d.options.state_save_interval is not None
        if outcomes:
            self._stage_outcomes(outcomes, wrote_db, encoded is not None, relaxed)
        if encoded is None and not self._staged and not self._mark_initialized:
            return
        if relaxed and not self._staged and not self._mark_initialized:
            self._persisted = encoded
            self._schedule_relaxed_save()
            return
        batch = WriteBatch(self.id, self.epoch)
        if self._mark_initialized:
            batch.mark_initialized = True
            self._mark_initialized = False
        if encoded is not None:
            batch.puts[STATE_KEY] = encode_envelope(encoded, d.state_version)
            self._persisted = encoded
        self._add_outcomes(batch)
        if self._staged:
            for key, value in self._staged.items():
                if value is None:
                    batch.deletes.add(key)
                else:
                    batch.puts[key] = value
            self._staged = {}
        if self.schedule.alarm_dirty:
            batch.set_alarm = True
            batch.alarm = self.schedule.next_at()
            self.schedule.alarm_dirty = False
        self._last_write = self._submit_nowait(batch)
        if batch.set_alarm and self.lifecycle is Lifecycle.AWAKE:
            self.schedule.arm()

    def _stage_outcomes(
        self, outcomes: list[Entry], wrote_db: bool, state_changed: bool, relaxed: bool
    ) -> None:
        """Add the outcomes of idempotent calls to this turn's batch — the batch that holds
        the calls' changes. A call that changed nothing keeps its outcome in memory only; in
        relaxed mode a state change and its outcome are written later, together."""
        written = wrote_db or bool(self._staged) or self._mark_initialized
        for entry in outcomes:
            if entry.record is None:
                continue
            if written or entry.must_persist or (state_changed and not relaxed):
                self._staged[entry.storage_key] = entry.record
                self.idempotency.dead.discard(entry.storage_key)  # replaced, not deleted
                entry.durable = True
            elif state_changed:
                self.idempotency.deferred.append(entry)

    def _add_outcomes(self, batch: WriteBatch) -> None:
        """Put outcomes waiting for the relaxed save, and deletes of forgotten ones, in
        ``batch``."""
        table = self.idempotency
        for entry in table.deferred:
            if entry.record is not None:
                batch.puts[entry.storage_key] = entry.record
                table.dead.discard(entry.storage_key)
                entry.durable = True
        table.deferred.clear()
        batch.deletes.update(table.dead)
        table.dead.clear()

    def _relaxed_batch(self) -> WriteBatch:
        """The relaxed-mode write of the latest state (and the outcomes that go with it)."""
        assert self._persisted is not None
        batch = WriteBatch(self.id, self.epoch)
        batch.puts[STATE_KEY] = encode_envelope(self._persisted, self.definition.state_version)
        self._add_outcomes(batch)
        return batch

    def _schedule_relaxed_save(self) -> None:
        if self._relaxed_task is not None:
            return
        interval = self.definition.options.state_save_interval or 0.0

        async def save_later() -> None:
            try:
                await self.node.clock.sleep(interval)
            finally:
                self._relaxed_task = None
            if self.lifecycle in (Lifecycle.AWAKE, Lifecycle.STOPPING) and self._persisted:
                self._last_write = self._submit_nowait(self._relaxed_batch())

        self._relaxed_task = asyncio.get_running_loop().create_task(save_later())

    def _submit_nowait(self, batch: WriteBatch) -> asyncio.Future[None]:
        self.db.stamp(batch)
        future = self.node.committer.submit(batch)
        if not future.done() or future.exception() is not None:  # done: committed already
            future.add_done_callback(self._on_write_done)
        return future

    async def _submit(self, batch: WriteBatch) -> None:
        self._last_write = self._submit_nowait(batch)
        await self._gate()

    def _on_write_done(self, future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is None:
            return
        if isinstance(future.exception(), FencedError):
            self.node.lose(self)  # type: ignore[arg-type]  # self is an ActorInstance
            return
        # Memory is now ahead of durable state: drop this instance so the next call
        # reloads what was committed.
        self.log.error("write failed; reloading actor: %s", future.exception())
        self.node.evict(self)  # type: ignore[arg-type]

    async def _gate(self) -> None:
        """The output gate: wait until the latest write this caller may have seen is durable."""
        if self._relaxed_task is not None and self.lifecycle is Lifecycle.STOPPING:
            self._relaxed_task.cancel()
            self._relaxed_task = None
            if self._persisted is not None:
                self._last_write = self._submit_nowait(self._relaxed_batch())
        write = self._last_write
        if write is None or (write.done() and write.exception() is None):
            return
        try:
            await asyncio.shield(write)
        except FencedError:
            raise ownership_lost(self.id) from None
        except StorageUnavailable as exc:
            raise storage_failure(exc) from exc
        except StorageError as exc:
            raise ActorError(
                "internal", Code.STORAGE_ERROR, "the change could not be made durable"
            ) from exc

    async def save_state(self, *, wait: bool) -> None:
        await self._persist_changes()
        if self._relaxed_task is not None and wait:
            self._relaxed_task.cancel()
            self._relaxed_task = None
            self._last_write = self._submit_nowait(self._relaxed_batch())
        if wait:
            await self._gate()


class _Snapshot:
    """What a failed turn is rolled back to."""

    __slots__ = ("alarm_dirty", "events", "outcomes", "schedules", "staged", "state")

    def __init__(
        self,
        state: bytes | None,
        staged: dict[bytes, bytes | None],
        schedules: dict[str, ScheduledCall],
        alarm_dirty: bool,
    ) -> None:
        self.events = 0  # events held when the snapshot was taken
        self.outcomes = 0  # idempotent calls' outcomes not yet in a batch
        self.state = state
        self.staged = staged
        self.schedules = schedules
        self.alarm_dirty = alarm_dirty
