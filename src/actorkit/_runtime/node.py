"""``Node``: one process's runtime — the actor directory, activation, and call dispatch.

Invariants:
- At most one ``ActorInstance`` per actor id exists in a node, and a new one is activated
  only after the previous one has fully stopped (its state is durable).
- Concurrent first calls for one ``(name, key)`` create exactly one actor: creation is
  single-flight in the node and atomic (insert-if-absent) in the driver.
- The node activates an actor only through ``Driver.activate`` under its own ``id``: when
  another live owner holds the actor, the node does not take it. When one of its instances
  is fenced (``lose``), it forgets it and never re-takes it on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from actorkit._runtime import context
from actorkit._runtime.activity import Activity
from actorkit._runtime.clock import Clock, SystemClock
from actorkit._runtime.committer import Committer
from actorkit._runtime.forwarding import MAX_HOPS, ActorElsewhere, Forwarder, NotDelivered
from actorkit._runtime.housekeeping import Housekeeper
from actorkit._runtime.idempotency import check_key
from actorkit._runtime.instance import ActorInstance, Lifecycle, Retry
from actorkit._runtime.links import Links
from actorkit._runtime.membership import DEFAULT_LEASE_SECONDS, Membership
from actorkit.errors import (
    ActorError,
    Code,
    FencedError,
    actor_not_found,
    internal_error,
    ownership_lost,
    too_large,
)
from actorkit.protocol.keys import Key, normalize_key, validate_name
from actorkit.storage.base import ActorRecord, Driver, OwnedElsewhere

if TYPE_CHECKING:
    from actorkit._runtime.actor import Actor
    from actorkit._runtime.registry import Registry
    from actorkit._runtime.sessions import ConnectionSession
    from actorkit.client.base import AsyncClient

__all__ = ["Node", "ResolveMode"]

log = logging.getLogger("actorkit.node")

ResolveMode = Literal["get", "get_or_create", "create"]

_input_encoder = msgspec.msgpack.Encoder()


def new_actor_id() -> str:
    return uuid.uuid4().hex


def owned_elsewhere(actor_id: str, owner: str) -> ActorError:
    """The actor is active on another node this one cannot hand the call to. Retryable."""
    return ActorError(
        "actor",
        Code.ACTOR_OWNED_ELSEWHERE,
        f"actor {actor_id} is active on another node ({owner}); retry",
        {"actor_id": actor_id, "owner": owner, "retryable": True},
    )


class Node:
    """Hosts actors of one registry on one storage driver."""

    def __init__(
        self,
        registry: Registry,
        driver: Driver,
        *,
        clock: Clock | None = None,
        dev: bool = False,
        region: str | None = None,
        sleep_check_interval: float = 0.5,
        alarm_poll_interval: float = 0.25,
        node_id: str | None = None,
        client_factory: Callable[[Node], AsyncClient] | None = None,
        forwarder: Forwarder | None = None,
        advertise_url: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.id = node_id or uuid.uuid4().hex  # the owner name this node activates under
        self.registry = registry
        self.driver = driver
        self.clock: Clock = clock or SystemClock()
        self.dev = dev
        self.region = region
        self.limits = registry.limits
        self.committer = Committer(driver)
        self.activity = Activity()
        self.links = Links(self)
        self.instances: dict[str, ActorInstance] = {}
        self._activating: dict[str, asyncio.Future[ActorInstance]] = {}
        self._stopping: dict[str, asyncio.Future[None]] = {}
        self._resolving: dict[tuple[str, Key], asyncio.Future[ActorRecord]] = {}
        self._started = False
        self._closing = False
        self._client: AsyncClient | None = None
        self._client_factory = client_factory
        self._tasks: set[asyncio.Task[None]] = set()
        # Sockets whose actor sleeps, by actor id: reattached when it wakes.
        self.hibernating: dict[str, set[ConnectionSession]] = {}
        self.housekeeper = Housekeeper(
            self,
            sleep_check_interval=sleep_check_interval,
            alarm_poll_interval=alarm_poll_interval,
        )
        self.forwarder = forwarder
        self.membership = Membership(
            self, lease=lease_seconds, advertise_url=advertise_url, region=region
        )
        self._shared = driver.shared

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if not self._started:
            await self.driver.open()
            try:
                await self.membership.start()
            except BaseException:
                await self.driver.close()
                raise
            self._started = True
            self.housekeeper.start()

    async def drain(self) -> None:
        """Put every actor to sleep (state durable, ownership released) and leave the
        cluster. Meanwhile and afterwards, calls for those actors are handed to another
        node (in a cluster) or fail with ``actor_stopping``; the driver stays open."""
        if not self._started or self._closing:
            return
        self._closing = True
        await self.housekeeper.stop()
        # Background sleeps must finish (they make state durable); wakes fail fast now.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Activations already under way finish (no new ones start); then everything sleeps.
        for _ in range(10):  # each round can only find activations begun before the drain
            if not (self.instances or self._activating):
                break
            await asyncio.gather(*self._activating.values(), return_exceptions=True)
            await asyncio.gather(
                *(self._sleep(inst) for inst in list(self.instances.values())),
                return_exceptions=True,
            )
        await self.committer.flush()
        await self.membership.stop()

    async def stop(self) -> None:
        """``drain``, then close the driver."""
        if not self._started:
            return
        await self.drain()
        if self.forwarder is not None:
            await self.forwarder.aclose()
        await self.driver.close()
        self._started = False
        self._closing = False

    @property
    def client(self) -> AsyncClient:
        """An in-process client bound to this node (what ``Actor.client`` returns).

        Built once by the ``client_factory`` the node was given: the runtime does not import
        the client.
        """
        if self._client is None:
            if self._client_factory is None:
                raise RuntimeError(
                    "this node has no client: construct it with "
                    "Node(..., client_factory=actorkit.local.local_client)"
                )
            self._client = self._client_factory(self)
        return self._client

    @property
    def closing(self) -> bool:
        """True once ``stop()`` has begun."""
        return self._closing

    def sanitize_error(self) -> ActorError:
        return internal_error()

    # -- directory -----------------------------------------------------------------------

    async def resolve(
        self,
        name: str,
        key: Any,
        mode: ResolveMode = "get_or_create",
        input: Any = None,
        region: str | None = None,
    ) -> ActorRecord:
        """Find (and, per ``mode``, create) the actor ``name[key]``."""
        validate_name(name, self.limits)
        if name not in self.registry.names and not self.membership.hosted_elsewhere(name):
            self.registry.definition(name)  # raises: no node knows this actor type
        norm = normalize_key(key, self.limits)
        if mode == "get":
            record = await self.driver.find_actor(name, norm)
            if record is None:
                raise actor_not_found(f"no actor {name!r} with key {list(norm)!r}")
            return record
        encoded_input = self._encode_input(input)
        slot = (name, norm)
        pending = self._resolving.get(slot)
        if pending is not None and mode == "get_or_create":
            return await asyncio.shield(pending)
        future: asyncio.Future[ActorRecord] = asyncio.get_running_loop().create_future()
        if mode == "get_or_create":
            self._resolving[slot] = future
        try:
            record = await self._find_or_create(name, norm, mode, encoded_input, region)
            future.set_result(record)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            if self._resolving.get(slot) is future:
                del self._resolving[slot]
        if not record.initialized:
            # Initialise now so create hooks run (and fail) at creation time — unless
            # another node is activating it, which runs them there.
            with contextlib.suppress(ActorElsewhere):
                await self.instance(record.id)
        return record

    async def _find_or_create(
        self, name: str, key: Key, mode: ResolveMode, input: bytes | None, region: str | None
    ) -> ActorRecord:
        if mode == "get_or_create":
            existing = await self.driver.find_actor(name, key)
            if existing is not None:
                return existing
        record = ActorRecord(
            id=new_actor_id(),
            name=name,
            key=key,
            created_at=time.time(),
            input=input,
            region=region or self.region,
        )
        stored, created = await self.driver.create_actor(record)
        if mode == "create" and not created:
            raise ActorError(
                "actor",
                Code.ACTOR_ALREADY_EXISTS,
                f"actor {name!r} with key {list(key)!r} already exists",
            )
        return stored

    def _encode_input(self, input: Any) -> bytes | None:
        if input is None:
            return None
        try:
            data = _input_encoder.encode(input)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ActorError(
                "request", Code.VALIDATION_ERROR, f"input cannot be serialized: {exc}"
            ) from None
        if len(data) > self.limits.max_input_bytes:
            raise too_large(
                f"input is {len(data)} bytes; the limit is {self.limits.max_input_bytes}",
                self.limits.max_input_bytes,
            )
        return data

    async def get_record(self, actor_id: str) -> ActorRecord:
        inst = self.instances.get(actor_id)
        if inst is not None:
            return inst.record
        record = await self.driver.get_actor(actor_id)
        if record is None:
            raise actor_not_found(f"no actor with id {actor_id!r}")
        return record

    async def list_actors(
        self, name: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[ActorRecord]:
        return await self.driver.list_actors(name, after=after, limit=limit)

    # -- activation ----------------------------------------------------------------------

    async def instance(self, actor_id: str) -> ActorInstance:
        """The awake instance of ``actor_id``, activating it if needed.

        Raises ``ActorElsewhere`` when the actor lives (or should wake) on another node.
        """
        if self._shared:
            self.membership.check()
        inst = self.instances.get(actor_id)
        if inst is not None and inst.lifecycle is Lifecycle.AWAKE:
            return inst
        pending = self._activating.get(actor_id)
        if pending is not None:
            return await asyncio.shield(pending)
        if self._closing or not self._started:
            if self._closing and self._shared:
                await self._hand_over(actor_id)
            raise ActorError("actor", Code.ACTOR_STOPPING, "the node is shutting down")
        future: asyncio.Future[ActorInstance] = asyncio.get_running_loop().create_future()
        self._activating[actor_id] = future
        try:
            inst = await self._activate(actor_id)
            future.set_result(inst)
            return inst
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._activating[actor_id]

    async def _record_once_stopped(self, actor_id: str) -> ActorRecord:
        """The actor's record, read after a stop of its instance here (if any) is done."""
        stopping = self._stopping.get(actor_id)
        if stopping is not None:
            await asyncio.shield(stopping)
        record = await self.driver.get_actor(actor_id)
        if record is None:
            raise actor_not_found(f"no actor with id {actor_id!r}")
        return record

    async def _placement(self, actor_id: str) -> ActorRecord:
        """The actor's record (once a stop here is done) if it should be active on this
        node; raises ``ActorElsewhere`` if it lives, or should wake, on another. Activates
        nothing."""
        record = await self._record_once_stopped(actor_id)
        if self._shared or record.name not in self.registry.names:
            target = self.membership.host_for(actor_id, record.name, record.region)
            if target is not None:
                raise ActorElsewhere(actor_id, target)
            if record.name not in self.registry.names:
                raise actor_not_found(f"no live node can host actors of type {record.name!r}")
        if record.owner is not None and record.owner != self.id:
            # A plain read says another live node has it: hand the call over without the
            # locking ``activate`` (which would refuse anyway, at the cost of a write).
            owner = await self.membership.locate(record.owner)
            if owner is not None and owner.url is not None:
                raise ActorElsewhere(actor_id, owner)
        return record

    async def _activate(self, actor_id: str) -> ActorInstance:
        record = await self._placement(actor_id)
        definition = self.registry.definition(record.name)
        activation = await self.driver.activate(actor_id, self.id)
        if activation is None:
            raise actor_not_found(f"no actor with id {actor_id!r}")
        if isinstance(activation, OwnedElsewhere):
            owner = await self.membership.locate(activation.owner)
            if owner is not None and owner.url is not None:
                raise ActorElsewhere(actor_id, owner)
            raise owned_elsewhere(actor_id, activation.owner)
        record = activation.record
        inst = ActorInstance(self, definition, record, activation.epoch)
        try:
            await inst.start(activation.data)
        except BaseException as exc:
            await inst.db.close()
            if not record.initialized and not isinstance(exc, FencedError):
                # A failed create leaves nothing behind: the key is free again.
                with contextlib.suppress(FencedError):
                    await self.driver.delete_actor(actor_id, activation.epoch)
            if isinstance(exc, FencedError):
                raise ownership_lost(actor_id) from None
            raise
        record.initialized = True
        record.input = None
        self.instances[actor_id] = inst
        for session in self.hibernating.pop(actor_id, ()):
            session.reattach()
        if inst._destroy_requested:  # self.destroy() in a create/wake hook
            await self._retire(inst, destroy=True)
            raise actor_not_found("actor was destroyed")
        if inst._sleep_requested:
            inst._sleep_requested = False
            self.sleep_soon(inst)
        return inst

    async def _hand_over(self, actor_id: str) -> None:
        """Draining: once the actor's sleep (which releases it) is done, point the caller
        at the live node that should wake it."""
        record = await self._record_once_stopped(actor_id)
        target = self.membership.host_for(actor_id, record.name, record.region)
        if target is not None:
            raise ActorElsewhere(actor_id, target)

    async def locate(self, actor_id: str, *, wake: bool = True) -> ActorElsewhere | None:
        """``None`` when ``actor_id`` is served here (activating it if needed, unless not
        ``wake``), else where it lives — for routes that proxy the whole request (raw HTTP,
        WebSockets)."""
        inst = self.instances.get(actor_id)
        if inst is not None and inst.serving and not self._shared:
            return None
        try:
            if wake:
                await self.instance(actor_id)
            elif inst is None:
                await self._placement(actor_id)
        except ActorElsewhere as moved:
            return moved
        return None

    def lose(self, inst: ActorInstance) -> None:
        """``inst`` was fenced: another activation owns its actor. Stop serving it at once;
        the node does not activate it again unless a new request asks for it."""
        self.forget(inst)
        inst.lose()

    def evict(self, inst: ActorInstance) -> None:
        """Drop an instance whose memory can no longer be trusted (a write failed). The
        next activation waits for its writes still in flight, so it loads what they left."""
        self.forget(inst)
        inst.db.close_soon()
        if inst.lifecycle is Lifecycle.AWAKE:
            inst.lifecycle = Lifecycle.STOPPED
        if inst.id not in self._stopping:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._stopping[inst.id] = done

            async def settle() -> None:
                try:
                    await self.committer.flush()
                finally:
                    done.set_result(None)
                    if self._stopping.get(inst.id) is done:
                        del self._stopping[inst.id]

            self.spawn(settle())

    async def _sleep(self, inst: ActorInstance) -> None:
        await self._retire(inst, destroy=False)

    async def _retire(self, inst: ActorInstance, *, destroy: bool, in_turn: bool = False) -> None:
        """Stop ``inst``; until it has stopped, activations of its id wait. ``in_turn``: the
        caller already holds the instance's turn (``self.destroy()`` inside an action)."""
        self.forget(inst)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stopping[inst.id] = done
        try:
            if in_turn:
                await inst._shutdown(destroy=destroy)
            else:
                await inst.stop(destroy=destroy)
        finally:
            done.set_result(None)
            if self._stopping.get(inst.id) is done:
                del self._stopping[inst.id]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background; cancelled when the node stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sleep_soon(self, inst: ActorInstance) -> None:
        """Put ``inst`` to sleep in the background (after the current call returns)."""
        if self.instances.get(inst.id) is inst:
            self.spawn(self._sleep(inst))

    async def sleep_actor(self, actor_id: str) -> None:
        """Put ``actor_id`` to sleep now, if it is awake."""
        inst = self.instances.get(actor_id)
        if inst is not None:
            await self._sleep(inst)

    def forget(self, inst: ActorInstance) -> None:
        """Stop routing calls to ``inst`` (it is shutting down on its own)."""
        if self.instances.get(inst.id) is inst:
            del self.instances[inst.id]

    async def destroy(self, actor_id: str, *, hops: int = 0) -> None:
        """Destroy ``actor_id``: run ``on_destroy``, delete its data; the key becomes free."""
        try:
            inst = await self.instance(actor_id)
        except ActorElsewhere as moved:
            if self.forwarder is None or hops >= MAX_HOPS:
                raise
            await self.forwarder.destroy(moved.url, actor_id, hops=hops + 1)
            return
        await self._retire(inst, destroy=True)

    # -- calls ---------------------------------------------------------------------------

    async def call(
        self,
        actor_id: str,
        action: str,
        args: list[Any],
        *,
        conn: Any = None,
        params: Any = None,
        hops: int = 0,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
        inside: bool = False,
    ) -> Any:
        """Call ``action`` on ``actor_id``; returns the output as builtins. A stateless call
        for an actor on another node is handed to it (``hops``: how often it already was).
        With an ``idempotency_key``, a repeat returns the first outcome without running again.

        When the owner refuses the connection (it died, or is shutting down), the call was
        certainly not run there: it is tried again, as ownership changes, until the owner's
        lease could have run out — so a failover costs the caller time, not an error.

        ``inside``: the app's own code calls (``self.client``), so internal actions exist;
        a call forwarded from another node gets them only with the cluster secret
        (``ACTORKIT_CLUSTER_SECRET``; see ``server/fastpath.py``).
        """
        if idempotency_key is not None:
            check_key(idempotency_key, self.limits.max_idempotency_key_length)
        deadline: float | None = None
        pause = 0.02
        stopped = 0  # instances that stopped before the call got its turn
        while stopped < 100:
            inst = self.instances.get(actor_id)
            if inst is None or inst.lifecycle is not Lifecycle.AWAKE:
                try:
                    inst = await self.instance(actor_id)
                except ActorElsewhere as moved:
                    if self.forwarder is None or hops >= MAX_HOPS or conn is not None:
                        raise
                    forwarded = self.forwarder.call(
                        moved.url,
                        actor_id,
                        action,
                        args,
                        params,
                        chain=context.export_chain(self.id),
                        hops=hops + 1,
                        idempotency_key=idempotency_key,
                        kwargs=kwargs,
                    )
                    try:
                        return await self._unless_lapsed(forwarded, moved.member.id)
                    except NotDelivered:
                        now = time.monotonic()
                        if deadline is None:
                            deadline = now + self.membership.lease + 2.0
                        if now > deadline:
                            raise
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.25)
                    continue
            elif self._shared:
                self.membership.check()
            if not inside and action in inst.definition.internal_actions:
                inst.definition.action(action, outside=True)  # action_not_found
            try:
                return await inst.call(action, args, conn, params, idempotency_key, kwargs)
            except Retry:
                stopped += 1
        raise ActorError("actor", Code.ACTOR_STOPPING, "actor kept stopping; try again")

    async def _unless_lapsed(self, forwarded: Coroutine[Any, Any, Any], owner: str) -> Any:
        """Await a forwarded call; if it takes long, give up once the owner's lease has run
        out (the owner froze: a call to it may hang for as long as it is stopped). Whether
        the call ran is then unknown, so it is not run again here: the caller may retry."""
        task = asyncio.ensure_future(forwarded)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.membership.lease / 3)
            if done:
                return task.result()
            watch = asyncio.ensure_future(self.membership.lapsed(owner))
            try:
                await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watch.cancel()
            if task.done():
                return task.result()
        finally:
            task.cancel()  # a no-op once it is done
        raise ActorError(
            "actor",
            Code.NODE_UNAVAILABLE,
            "the node that owned the actor stopped answering and lost its lease; the call "
            "may or may not have run (retry if it is safe to)",
            {"retryable": True, "outcome": "unknown"},
        )

    async def run_in_actor(
        self, actor_id: str, label: str, fn: Callable[[Actor], Any], *, bounded: bool = True
    ) -> Any:
        """Run ``fn(actor)`` inside ``actor_id`` like an interleaved action (raw HTTP/WS hooks).

        See ``ActorInstance.run_interleaved``; routes around an instance that is stopping.
        """
        for _ in range(100):
            inst = await self.instance(actor_id)
            try:
                return await inst.run_interleaved(label, fn, bounded=bounded)
            except Retry:
                continue
        raise ActorError("actor", Code.ACTOR_STOPPING, "actor kept stopping; try again")

    async def run_in_turn(self, actor_id: str, fn: Callable[[Actor], Any]) -> Any:
        """Run ``fn(actor)`` as one turn of ``actor_id`` (see ``ActorInstance.run_in_turn``)."""
        for _ in range(100):
            inst = await self.instance(actor_id)
            try:
                return await inst.run_in_turn(fn)
            except Retry:
                continue
        raise ActorError("actor", Code.ACTOR_STOPPING, "actor kept stopping; try again")
