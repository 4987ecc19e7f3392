"""``Membership``: this node's place in the cluster — its lease, its peers, and placement.

Invariants (``docs/cluster.md``):
- The lease is renewed on the storage's clock every third of ``lease`` seconds. The node
  trusts it only until ``start + lease - margin`` on its *own monotonic clock*, where
  ``start`` is when the renewal was sent: the database's lease cannot have run out before
  that, so a node that could not renew (partitioned, paused, database down) stops serving
  its actors before any other node may take them.
- When a renewal finds the lease already gone, every actor this node had is considered
  lost (another node may own it with a higher epoch): the instances are dropped, their
  sockets closed so clients reconnect, and the node joins again.
- A driver that is not shared (memory, sqlite) has a membership of one that never lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import TYPE_CHECKING

from actorkit.errors import ActorError, Code
from actorkit.storage.base import Member

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["DEFAULT_LEASE_SECONDS", "Membership", "node_unavailable"]

log = logging.getLogger("actorkit.cluster")

DEFAULT_LEASE_SECONDS = 10.0


def node_unavailable(reason: str) -> ActorError:
    """This node cannot serve actors now (its lease lapsed). Retryable, on any node."""
    return ActorError(
        "actor",
        Code.NODE_UNAVAILABLE,
        f"this node cannot serve actors right now ({reason}); retry",
        {"retryable": True},
    )


class Membership:
    """Joins the cluster on start, keeps the lease alive, and knows the other members."""

    def __init__(
        self, node: Node, *, lease: float, advertise_url: str | None, region: str | None
    ) -> None:
        if lease <= 0:
            raise ValueError("lease_seconds must be positive")
        self.node = node
        self.lease = lease
        self.margin = max(0.1 * lease, 0.05)  # for clock-rate drift against the database
        self.shared = node.driver.shared
        self.me = Member(
            node.id,
            advertise_url,
            region,
            tuple(node.registry.names),
            started_at=time.time(),
        )
        self._valid_until = float("inf") if not self.shared else 0.0
        self._peers: dict[str, Member] = {}
        self._lapse_at: dict[str, float] = {}  # member id → monotonic time its lease ends
        self._task: asyncio.Task[None] | None = None
        self.fenced_reason: str | None = None  # why the node is not serving, if it is not

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join (the storage's ``open`` has run). Raises ``StorageError`` if it cannot."""
        await self._join()
        if self.shared:
            await self.refresh()
            self._task = asyncio.get_running_loop().create_task(
                self._keep_alive(), name="actorkit-membership"
            )

    async def stop(self) -> None:
        """Leave at once: the actors (already asleep, released) are free for other nodes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.node.driver.leave(self.me.id)
        except Exception as exc:  # the lease runs out by itself
            log.warning("could not leave the cluster cleanly: %s", exc)

    async def _join(self) -> None:
        sent = time.monotonic()
        await self.node.driver.join(self.me, self.lease)
        if self.shared:
            self._valid_until = sent + self.lease - self.margin
        self.fenced_reason = None

    # -- the lease -------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        """Whether this node may serve actors now (its lease is surely still held)."""
        return time.monotonic() < self._valid_until

    def check(self) -> None:
        """Raise ``node_unavailable`` unless the node may serve actors now."""
        if time.monotonic() >= self._valid_until:
            self._fence("the cluster lease could not be renewed in time")
            raise node_unavailable(self.fenced_reason or "lease lapsed")

    async def _keep_alive(self) -> None:
        interval = self.lease / 3
        while True:
            # Wake for the next renewal, or when the lease lapses if renewals keep failing.
            wait = min(interval, max(self._valid_until - time.monotonic(), 0.0))
            await asyncio.sleep(wait)
            if not self.serving:
                self._fence("the cluster lease could not be renewed in time")
            sent = time.monotonic()
            try:
                async with asyncio.timeout(interval):
                    renewed = await self.node.driver.renew(self.me.id, self.lease)
            except Exception as exc:
                log.warning("cluster lease renewal failed: %s", exc)
                continue
            if renewed:
                self._valid_until = sent + self.lease - self.margin
                self.fenced_reason = None
            else:
                self._fence("the cluster lease ran out")
                try:
                    await self._join()
                except Exception as exc:
                    log.warning("could not rejoin the cluster: %s", exc)
                    continue
            with contextlib.suppress(Exception):
                await self.refresh()

    def _fence(self, reason: str) -> None:
        """Stop serving every actor: another node may own them by now."""
        if self.fenced_reason is None:
            log.error("%s: dropping %d actors", reason, len(self.node.instances))
        self.fenced_reason = reason
        self._valid_until = min(self._valid_until, time.monotonic())
        for inst in list(self.node.instances.values()):
            self.node.lose(inst)

    # -- peers and placement ---------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the member table."""
        members = await self.node.driver.members()
        # ``lease_left`` counts from the read; the lease ran out no earlier than this.
        read_at = time.monotonic()
        self._peers = {m.id: m for m in members if m.id != self.me.id}
        self._lapse_at = {m.id: read_at + m.lease_left for m in members}

    async def lapsed(self, member_id: str) -> None:
        """Return once ``member_id``'s lease has surely run out (it left, died or froze)."""
        while True:
            lapse_at = self._lapse_at.get(member_id, 0.0)
            now = time.monotonic()
            if now >= lapse_at:
                try:
                    await self.refresh()  # confirm on the database's clock
                except Exception:  # unreachable storage proves nothing: keep waiting
                    await asyncio.sleep(self.lease / 3)
                    continue
                if time.monotonic() >= self._lapse_at.get(member_id, 0.0):
                    return
                continue
            await asyncio.sleep(min(lapse_at - now, self.lease / 3) + 0.01)

    def url_of(self, member_id: str | None) -> str | None:
        """The advertised URL of ``member_id`` (this node or a known peer)."""
        if member_id == self.me.id:
            return self.me.url
        member = self._peers.get(member_id or "")
        return None if member is None else member.url

    def peers(self) -> list[Member]:
        return sorted(self._peers.values(), key=lambda m: m.id)

    async def locate(self, member_id: str) -> Member | None:
        """The member ``member_id`` with its URL (re-reading the table if it is new)."""
        member = self._peers.get(member_id)
        if member is None or member.url is None:
            await self.refresh()
            member = self._peers.get(member_id)
        return member

    def hosted_elsewhere(self, name: str) -> bool:
        """Whether a live peer's app has actors of type ``name``."""
        return any(m.live and name in m.actor_types for m in self._peers.values())

    def host_for(self, actor_id: str, name: str, region: str | None) -> Member | None:
        """Where a sleeping actor should wake when this node should not take it: ``None``
        to activate here, else a live peer that hosts ``name`` (in ``region``, if any peer
        is there), chosen by hashing the actor id so every node picks the same one."""
        here = name in self.node.registry.names and not self.node.closing
        if here and (region is None or region == self.me.region):
            return None
        candidates = [
            m
            for m in self._peers.values()
            if m.live and m.url is not None and name in m.actor_types
        ]
        in_region = [m for m in candidates if region is not None and m.region == region]
        pool = sorted(in_region or ([] if here else candidates), key=lambda m: m.id)
        if not pool:
            return None
        digest = int.from_bytes(hashlib.blake2b(actor_id.encode(), digest_size=8).digest())
        return pool[digest % len(pool)]
