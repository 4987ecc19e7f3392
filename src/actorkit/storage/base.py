"""The storage driver interface: the one seam for persistence.

A driver stores:

- the **actor directory**: ``(name, key) → ActorRecord`` (id, input, creation time, region);
- **per-actor data**: an ordered key–value map per actor (state, schedules, connection state);
- **alarms**: at most one wake-up time per actor, so a sleeping actor can be woken;
- **actor databases**: each actor's own SQLite database (``self.db``), opened through
  ``open_actor_db`` as an APSW connection — a file per actor for ``sqlite://``, an in-memory
  database for ``memory://``, and pages stored by the backend itself (an APSW VFS) for a
  shared driver;
- **ownership**: which *owner* (a node) has the actor active, and an ``epoch`` per actor that
  increases on every activation. ``activate`` takes an actor only if no *live* owner holds
  it; every write names the epoch its writer activated with, and the driver refuses it
  (``FencedError``) when the epoch is stale — in the same transaction as the write, so an
  old owner can never overwrite newer data.

Writes are submitted as a ``WriteBatch`` through ``commit``; a driver may group batches from
many actors into one transaction (group commit) but must apply each batch atomically and
report per-batch success. A batch is durable when ``commit`` returns.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from actorkit.errors import ActorError, Code
from actorkit.protocol.keys import Key

if TYPE_CHECKING:
    import apsw

__all__ = ["Activation", "ActorRecord", "Driver", "Member", "OwnedElsewhere", "WriteBatch"]


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
    # On reads: the live owner (node) that has the actor active, if any. Informational —
    # ``activate`` alone decides ownership.
    owner: str | None = None


@dataclass(slots=True)
class Activation:
    """What ``Driver.activate`` gives the new owner: the record (its ``epoch`` is the new
    epoch, which every write of this activation names) and all of the actor's data."""

    record: ActorRecord
    data: dict[bytes, bytes]

    @property
    def epoch(self) -> int:
        return self.record.epoch


@dataclass(frozen=True, slots=True)
class OwnedElsewhere:
    """``Driver.activate``'s answer when another live owner has the actor active."""

    owner: str


@dataclass(slots=True)
class WriteBatch:
    """Changes to one actor's data, applied atomically if ``epoch`` is still current."""

    actor_id: str
    epoch: int
    puts: dict[bytes, bytes] = field(default_factory=dict)
    deletes: set[bytes] = field(default_factory=set)
    alarm: float | None = None  # new wake-up time, when ``set_alarm``
    set_alarm: bool = False  # True: replace the actor's alarm with ``alarm`` (None clears)
    mark_initialized: bool = False


@dataclass(slots=True)
class Member:
    """A node of the cluster, as the membership table knows it."""

    id: str
    url: str | None  # the advertised base URL other nodes forward to (None: not reachable)
    region: str | None = None
    actor_types: tuple[str, ...] = ()  # the actor names this node's app can host
    started_at: float = 0.0  # unix seconds
    # Filled in by ``members()``: seconds until the lease runs out on the database's clock
    # (negative once it has run out).
    lease_left: float = 0.0

    @property
    def live(self) -> bool:
        return self.lease_left > 0


class Driver(abc.ABC):
    """Base class of storage drivers. See ``docs/storage.md``.

    **Owners.** Ownership methods name the owner (a node id). An owner is *live* while the
    driver considers it able to serve: for a driver used by one process (memory, sqlite)
    that is from its first ``activate`` through this store until it releases everything
    or its driver handle closes; a shared driver decides by the owner's membership lease.
    """

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the backend (create schema, take locks)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; pending commits have finished when this returns. Owners that
        activated actors through this handle stop being live."""

    # -- membership ----------------------------------------------------------------------
    #: True when several processes may share the backend: the node then keeps its
    #: membership lease alive and forwards calls for actors other nodes own.
    shared: bool = False

    # The defaults serve a driver used by one process: the membership is just this node.

    async def join(self, member: Member, lease: float) -> None:
        """Register ``member`` (replacing an older row of the same id) with a lease of
        ``lease`` seconds from now on the backend's clock. Its owner id becomes live."""
        self._local_members()[member.id] = member

    async def renew(self, member_id: str, lease: float) -> bool:
        """Extend the lease to ``lease`` seconds from now, on the backend's clock. False if
        the lease had already run out (or the member left): the caller must consider every
        actor it had taken lost and ``join`` again."""
        return member_id in self._local_members()

    async def leave(self, member_id: str) -> None:
        """Remove the member at once (graceful shutdown): its actors are free to take."""
        self._local_members().pop(member_id, None)

    async def members(self) -> list[Member]:
        """Every member with a row, live or not, ``lease_left`` filled in."""
        return [replace(m, lease_left=math.inf) for m in self._local_members().values()]

    def _local_members(self) -> dict[str, Member]:
        members: dict[str, Member] = self.__dict__.setdefault("_members", {})
        return members

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
    async def delete_actor(self, actor_id: str, epoch: int) -> None:
        """Remove the actor's record, data, alarm and database; its key becomes free.

        Fenced like a write: raises ``FencedError`` (and deletes nothing) unless ``epoch``
        is the actor's current epoch. Unknown ids are a no-op.
        """

    # -- ownership ---------------------------------------------------------------------

    @abc.abstractmethod
    async def activate(self, actor_id: str, owner: str) -> Activation | OwnedElsewhere | None:
        """Take the actor for ``owner`` and load it, in one round trip.

        If no live owner other than ``owner`` holds it: record ``owner`` as its owner,
        increment its epoch and return an ``Activation`` (the new epoch and all its data).
        If another live owner holds it: ``OwnedElsewhere(owner)``, changing nothing.
        ``None`` if the actor does not exist. Atomic under concurrent callers: of several
        owners racing for one actor, exactly one gets an ``Activation``.
        """

    @abc.abstractmethod
    async def release(self, actor_id: str, owner: str, epoch: int) -> None:
        """``owner`` stops hosting the actor (it went to sleep): another owner may activate
        it at once. A no-op unless ``owner`` still holds it at ``epoch``."""

    # -- data ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def load(self, actor_id: str) -> dict[bytes, bytes]:
        """All of the actor's key–value data (a read: takes no ownership)."""

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
        """``(actor_id, when)`` of alarms due at ``now`` or earlier, earliest first (a read,
        for looking ahead; ``claim_alarms`` decides who fires them)."""

    @abc.abstractmethod
    async def claim_alarms(
        self, owner: str, now: float, *, hold: float, limit: int = 1000
    ) -> list[tuple[str, float]]:
        """Claim the due alarms (``when <= now``) of actors that no other live owner holds,
        earliest first, for ``owner`` to wake them.

        A claimed alarm is not returned to another owner for ``hold`` seconds (on the same
        clock as ``now``), so of several owners sharing the backend one wakes the actor;
        once it activates the actor its ownership keeps the others away.
        """

    # -- actor databases ---------------------------------------------------------------------
    # These three are blocking: the runtime calls them from its database thread pool.

    def open_actor_db(self, actor_id: str, *, epoch: int, create: bool) -> apsw.Connection | None:
        """Open the actor's SQLite database for its owner at ``epoch``; ``None`` if it does
        not exist and not ``create``.

        The connection must be durable on COMMIT (e.g. WAL with ``synchronous=FULL``). The
        runtime uses it from one thread at a time and returns it with ``close_actor_db``.
        It also fences commits inside the database itself (see ``docs/storage.md``); a
        shared driver must in addition refuse a commit from a stale ``epoch`` in its own
        transaction. A driver that cannot store databases keeps this default, which raises
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
