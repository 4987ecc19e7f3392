"""Idempotent calls: the outcome of a call made with an idempotency key is remembered, so a
repeat of the call returns it without running the action again.

One ``IdempotencyTable`` per ``ActorInstance``. Invariants:

- A call's outcome is stored under ``idem/<key>`` in the actor's data, **in the write batch
  of the turn that ran it** (``StatePersistence._persist_changes`` takes the records queued
  here): after a crash either the call's changes and its outcome are both durable, or
  neither is and a repeat runs the call again. A call that changed nothing durable keeps its
  outcome in memory only: running it again after a restart changes nothing either. In
  relaxed mode (``state_save_interval``) the outcome is written with the state it changed.
  A turn that wrote ``self.db`` also records its outcomes in that database's transaction
  (``db_engine.Engine.commit``), which commits just before the batch: on wake, outcomes of
  turns whose batch never arrived are taken from there (``ActorDatabase.wake``).
- The outcome is published to repeats only after the call's reply was released (its writes
  are durable: the output gate); a repeat that arrives earlier waits for it.
- A ``UserError`` is an outcome (remembered); any other failure rolled the call back, so it
  is forgotten and a repeat runs the call again.
- One entry per key; the same key with another action or other arguments is refused with
  ``idempotency_key_reused``. Entries expire after ``ActorOptions.idempotency_window`` and
  at most ``idempotency_max_keys`` are kept (oldest forgotten first); forgotten durable
  entries are deleted with the next batch the actor writes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from actorkit.errors import ActorError, Code, validation_error

if TYPE_CHECKING:
    from actorkit._runtime.instance import ActorInstance

__all__ = ["IDEMPOTENCY_PREFIX", "Entry", "IdempotencyTable", "check_key"]

IDEMPOTENCY_PREFIX = b"idem/"


class _Record(msgspec.Struct, array_like=True):
    """The persisted form of an outcome."""

    at: float  # when the call started (the clock's seconds since the epoch)
    fingerprint: bytes  # of the action name and arguments
    ok: bool  # True: ``value`` is the output; False: the error's wire form
    value: msgspec.Raw


_encode = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(_Record).decode
_decode = msgspec.msgpack.decode


def check_key(key: Any, max_length: int) -> str:
    """``key`` if it is a usable idempotency key: 1 to ``max_length`` visible ASCII
    characters; else ``validation_error``."""
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= max_length
        or not key.isascii()
        or not key.isprintable()
        or " " in key
    ):
        raise validation_error(
            f"an idempotency key must be 1 to {max_length} visible ASCII characters",
            {"field": "idempotency_key", "max_length": max_length},
        )
    return key


def fingerprint(action: str, args: list[Any]) -> bytes:
    try:
        data = _encode([action, args])
    except (TypeError, ValueError, OverflowError):
        data = repr([action, args]).encode()
    return hashlib.blake2b(data, digest_size=16).digest()


class Entry:
    """One key's call: running (``done`` set while it runs) or finished with an outcome."""

    __slots__ = ("at", "done", "durable", "fingerprint", "key", "must_persist", "record")

    def __init__(self, key: str, at: float, fingerprint: bytes) -> None:
        self.key = key
        self.at = at
        self.fingerprint = fingerprint
        self.done: asyncio.Future[None] | None = None
        self.record: bytes | None = None  # the encoded ``_Record`` once finished
        self.durable = False  # the record is (being) written to storage
        self.must_persist = False  # persist even if the call changed nothing (interleaved)

    @property
    def storage_key(self) -> bytes:
        return IDEMPOTENCY_PREFIX + self.key.encode()

    def finish(self, ok: bool, value: Any) -> None:
        self.record = _encode(_Record(self.at, self.fingerprint, ok, msgspec.Raw(_encode(value))))

    def replay(self) -> Any:
        assert self.record is not None
        record = _decode_record(self.record)
        value = _decode(record.value)
        if record.ok:
            return value
        raise ActorError.from_wire(value)


class IdempotencyTable:
    """The remembered outcomes of one actor instance (see the module docstring)."""

    def __init__(self, inst: ActorInstance) -> None:
        self._inst = inst
        self.entries: dict[str, Entry] = {}  # oldest first
        self.dead: set[bytes] = set()  # storage keys of forgotten durable entries
        # Finished in the current turn, not yet handed to a write batch.
        self.unsaved: list[Entry] = []
        # Relaxed mode: outcomes of state changes not yet saved, written with the state.
        self.deferred: list[Entry] = []

    def load(self, data: dict[bytes, bytes]) -> None:
        """Remember the outcomes stored in the actor's data (on wake)."""
        found: list[Entry] = []
        for storage_key, raw in data.items():
            if not storage_key.startswith(IDEMPOTENCY_PREFIX):
                continue
            try:
                record = _decode_record(raw)
            except msgspec.DecodeError:
                self.dead.add(storage_key)
                continue
            key = storage_key[len(IDEMPOTENCY_PREFIX) :].decode(errors="replace")
            entry = Entry(key, record.at, record.fingerprint)
            entry.record = raw
            entry.durable = True
            found.append(entry)
        found.sort(key=lambda e: e.at)
        self.entries = {e.key: e for e in found}

    async def run(
        self, key: str, action: str, args: list[Any], execute: Callable[[Entry], Awaitable[Any]]
    ) -> Any:
        """The outcome of the call ``action(*args)`` known by ``key``: remembered, or awaited
        from the same call running now, or ``execute(entry)``'s (which must queue the entry
        with ``finished`` inside the call's turn)."""
        options = self._inst.definition.options
        clock = self._inst.node.clock
        print_ = fingerprint(action, args)
        while True:
            entry = self.entries.get(key)
            if (
                entry is not None
                and entry.done is None
                and clock.now() - entry.at >= options.idempotency_window
            ):
                self._forget(entry)
                entry = None
            if entry is None:
                break
            if entry.fingerprint != print_:
                raise ActorError(
                    "request",
                    Code.IDEMPOTENCY_KEY_REUSED,
                    f"idempotency key {key!r} was used for another call (a different action "
                    "or different arguments); use a new key for a new call",
                    {"idempotency_key": key},
                )
            if entry.done is None:
                return entry.replay()
            # The same call is running: its outcome is ours (or, if it failed without an
            # outcome, this repeat runs it).
            await asyncio.shield(entry.done)
        entry = Entry(key, clock.now(), print_)
        entry.done = asyncio.get_running_loop().create_future()
        self.entries[key] = entry
        self._prune(entry.at)
        try:
            output = await execute(entry)
        except ActorError as err:
            if entry.record is None and err.group == "user":
                entry.finish(False, err.to_wire())  # rolled back: nothing to persist
            else:
                self._drop(entry)  # incl. a call whose writes failed after it finished
            raise
        except BaseException:
            self._drop(entry)
            raise
        finally:
            done, entry.done = entry.done, None
            done.set_result(None)
        return output

    def finished(self, entry: Entry, output: Any) -> None:
        """The call ``entry`` returned ``output`` inside its turn: queue its record for the
        turn's write batch."""
        entry.finish(True, output)
        self.unsaved.append(entry)

    def take_unsaved(self) -> list[Entry]:
        unsaved, self.unsaved = self.unsaved, []
        return unsaved

    def _drop(self, entry: Entry) -> None:
        """The call failed without an outcome: forget it (a repeat runs it again)."""
        if self.entries.get(entry.key) is entry:
            del self.entries[entry.key]
        entry.record = None

    def _forget(self, entry: Entry) -> None:
        del self.entries[entry.key]
        if entry.durable:
            self.dead.add(entry.storage_key)

    def _prune(self, now: float) -> None:
        options = self._inst.definition.options
        window, cap = options.idempotency_window, options.idempotency_max_keys
        for entry in list(self.entries.values()):
            if entry.done is not None:
                break  # still running: kept (so the table may briefly exceed its bound)
            if len(self.entries) <= cap and now - entry.at < window:
                break
            self._forget(entry)
