"""The storage driver interface: the one seam for persistence.

A driver stores four things:

- the **actor directory**: ``(name, key) → ActorRecord`` (id, input, creation time, region);
- **per-actor data**: an ordered key–value map per actor (state, schedules, connection state);
- **alarms**: at most one wake-up time per actor, so a sleeping actor can be woken;
- **actor databases**: each actor's own SQLite database (``self.db``), opened through
  ``open_actor_db`` as an APSW connection — a file per actor for ``sqlite://``, an in-memory
  database for ``memory://``, and pages stored by the backend itself (an APSW VFS) for a
  shared driver;
- **ownership**: an ``epoch`` per actor that increases on every activation. Every write names
  the epoch its writer activated with, and the driver refuses it (``FencedError``) when the
  epoch is stale — in the same transaction as the write, so an old owner can never
  overwrite newer data.

Writes are submitted as a ``WriteBatch`` through ``commit``; a driver may group batches from
many actors into one transaction (group commit) but must apply each batch atomically and
report per-batch success. A batch is durable when ``commit`` returns.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actorkit.errors import ActorError, Code
from actorkit.protocol.keys import Key

if TYPE_CHECKING:
    import apsw

__all__ = ["ActorRecord", "Driver", "WriteBatch"]


@dataclass(slots=True)
class ActorRecord:
    """A row of the actor directory."""

    id: str
    name: str
    key: Key
    created_at: float
    input: bytes | None = None  # msgpack-encoded create input, kept until initialised
    region: str | None = None
    initialized: bool = False  # create_state/on_create ran and their state is durable
    epoch: int = 0


@dataclass(slots=True)
class WriteBatch:
    """Changes to one actor's data, applied atomically if ``epoch`` is still current."""

    actor_id: str
    epoch: int
    puts: dict[bytes, bytes] = field(default_factory=dict)
    deletes: set[bytes] = field(default_factory=set)
    delete_prefixes: set[bytes] = field(default_factory=set)
    alarm: float | None = None  # new wake-up time, when ``set_alarm``
    set_alarm: bool = False  # True: replace the actor's alarm with ``alarm`` (None clears)
    mark_initialized: bool = False


class Driver(abc.ABC):
    """Base class of storage drivers. See ``docs/storage.md``."""

    #: True when several processes may share the backend (cluster drivers).
    shared: bool = False

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the backend (create schema, take locks)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; pending commits have finished when this returns."""

    # -- directory ---------------------------------------------------------------------

    @abc.abstractmethod
    async def create_actor(self, record: ActorRecord) -> tuple[ActorRecord, bool]:
        """Insert ``record`` unless ``(name, key)`` exists.

        Returns ``(record, created)``: the stored record (the existing one on conflict) and
        whether this call inserted it. Must be atomic under concurrent callers.
        """

    @abc.abstractmethod
    async def find_actor(self, name: str, key: Key) -> ActorRecord | None:
        """The record for ``(name, key)``, or ``None``."""

    @abc.abstractmethod
    async def get_actor(self, actor_id: str) -> ActorRecord | None:
        """The record for ``actor_id``, or ``None``."""

    @abc.abstractmethod
    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        """Records ordered by id, optionally of one name, starting after id ``after``."""

    @abc.abstractmethod
    async def delete_actor(self, actor_id: str) -> None:
        """Remove the actor's record, data and alarm; its key becomes free."""

    # -- ownership ---------------------------------------------------------------------

    @abc.abstractmethod
    async def acquire(self, actor_id: str) -> int:
        """Take ownership for a new activation: increment and return the actor's epoch.

        Raises ``KeyError`` if the actor does not exist.
        """

    # -- data ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        """All of the actor's key–value data."""

    @abc.abstractmethod
    async def commit(self, batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        """Apply batches durably; one result per batch (``None`` or the error, such as
        ``FencedError``). A failed batch leaves no trace and does not affect the others."""

    def commit_now(self, batches: Sequence[WriteBatch]) -> list[BaseException | None] | None:
        """Optional fast path: apply ``batches`` synchronously, as ``commit`` would, when the
        driver needs no I/O to make them durable (``memory://``). Return ``None`` (the
        default) to say "not supported"; the runtime then awaits ``commit``."""
        return None

    # -- alarms --------------------------------------------------------------------------

    @abc.abstractmethod
    async def due_alarms(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        """``(actor_id, when)`` of alarms due at ``now`` or earlier, earliest first."""

    @abc.abstractmethod
    async def next_alarm(self) -> float | None:
        """The earliest alarm time, or ``None``."""

    # -- actor databases ---------------------------------------------------------------------
    # These three are blocking: the runtime calls them from its database thread pool.

    def open_actor_db(self, actor_id: str, *, create: bool) -> apsw.Connection | None:
        """Open the actor's SQLite database; ``None`` if it does not exist and not ``create``.

        The connection must be durable on COMMIT (e.g. WAL with ``synchronous=FULL``). The
        runtime uses it from one thread at a time and returns it with ``close_actor_db``.
        A driver that cannot store databases keeps this default, which raises
        ``database_not_supported``.
        """
        raise ActorError(
            "actor",
            Code.DATABASE_NOT_SUPPORTED,
            f"the {type(self).__name__} storage driver does not support actor databases "
            "(self.db); use memory://, sqlite:///path or postgresql://…",
        )

    def close_actor_db(self, actor_id: str, conn: apsw.Connection) -> None:
        """Release a connection from ``open_actor_db`` (the actor went to sleep)."""
        conn.close()

    def delete_actor_db(self, actor_id: str) -> None:  # noqa: B027 - optional hook
        """Delete the actor's database, if any (called by ``delete_actor``)."""
