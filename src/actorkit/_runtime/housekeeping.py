"""The node's timers: idle actors go to sleep; due alarms wake sleeping actors.

Both loops run on the node's clock, so a ``MockClock`` drives them in tests. Due alarms are
claimed through the driver (``claim_alarms``), so of several nodes sharing a store one wakes
each actor; an awake actor's own timer fires its schedules.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from actorkit._runtime.instance import Lifecycle
from actorkit.errors import ActorError

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["Housekeeper"]

log = logging.getLogger("actorkit.node")

#: Seconds a claimed alarm is kept from other nodes while this one wakes its actor.
ALARM_CLAIM_HOLD = 10.0


class Housekeeper:
    def __init__(
        self, node: Node, *, sleep_check_interval: float, alarm_poll_interval: float
    ) -> None:
        self.node = node
        self.sleep_check_interval = sleep_check_interval
        self.alarm_poll_interval = alarm_poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._waking: set[str] = set()
        self._next_check = float("inf")  # when the alarm watcher looks next
        self._kick = asyncio.Event()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._reap_idle(), name="actorkit-sleep"),
            loop.create_task(self._watch_alarms(), name="actorkit-alarms"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _reap_idle(self) -> None:
        clock = self.node.clock
        while True:
            await clock.sleep(self.sleep_check_interval)
            now = clock.now()
            for inst in list(self.node.instances.values()):
                if inst.should_sleep(now):
                    self.node.sleep_soon(inst)

    async def _watch_alarms(self) -> None:
        clock = self.node.clock
        driver = self.node.driver
        poll = self.alarm_poll_interval
        while True:
            self._kick.clear()  # a kick from now on makes the next sleep end early
            checked_at = clock.now()
            try:
                # Alarms up to one poll ahead: the due ones this node claims wake their
                # actors; the earliest later one sets the next look (an alarm being handled
                # is not waited for).
                upcoming = await driver.due_alarms(checked_at + poll)
                claimed = []
                if any(at <= checked_at for _, at in upcoming):
                    claimed = await driver.claim_alarms(
                        self.node.id, checked_at, hold=ALARM_CLAIM_HOLD
                    )
            except Exception:
                log.exception("alarm check failed")
                upcoming = claimed = []
            later = [at for actor_id, at in upcoming if at > checked_at]
            for actor_id, _ in claimed:
                self._wake(actor_id)
            delay = poll
            if later:
                delay = min(later) - clock.now()
                if delay <= 0:
                    continue  # it came due while we were looking: look again now
            await self._sleep_unless_kicked(delay)

    async def _sleep_unless_kicked(self, delay: float) -> None:
        """Sleep ``delay`` on the node's clock, or less if ``note_alarm`` asks to look sooner."""
        self._next_check = self.node.clock.now() + delay
        sleeper = asyncio.ensure_future(self.node.clock.sleep(delay))
        kicked = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait({sleeper, kicked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            kicked.cancel()

    def note_alarm(self, at: float) -> None:
        """An actor went to sleep with an alarm at ``at``: make sure the watcher is on time."""
        if at < self._next_check:
            self._kick.set()

    def _wake(self, actor_id: str) -> None:
        inst = self.node.instances.get(actor_id)
        if inst is not None and inst.lifecycle is Lifecycle.AWAKE:
            return  # an awake actor's own timer fires its schedules
        if actor_id in self._waking:
            return
        self._waking.add(actor_id)

        async def wake() -> None:
            try:
                inst = await self.node.instance(actor_id)
                await inst.schedule.fire_due()
            except ActorError as exc:
                log.warning("could not wake actor %s for its alarm: %s", actor_id, exc)
            except Exception:
                log.exception("could not wake actor %s for its alarm", actor_id)
            finally:
                self._waking.discard(actor_id)

        self.node.spawn(wake())
