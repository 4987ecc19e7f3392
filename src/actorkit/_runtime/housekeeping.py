"""The node's timers: idle actors go to sleep; due alarms wake sleeping actors.

Both loops run on the node's clock, so a ``MockClock`` drives them in tests.
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


class Housekeeper:
    def __init__(
        self, node: Node, *, sleep_check_interval: float, alarm_poll_interval: float
    ) -> None:
        self.node = node
        self.sleep_check_interval = sleep_check_interval
        self.alarm_poll_interval = alarm_poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._waking: set[str] = set()

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
        while True:
            checked_at = clock.now()
            try:
                for actor_id, _ in await driver.due_alarms(checked_at):
                    self._wake(actor_id)
                next_at = await driver.next_alarm()
            except Exception:
                log.exception("alarm check failed")
                next_at = None
            if next_at is None or next_at <= checked_at:
                # Nothing pending, or only alarms already being handled (or failing).
                delay = self.alarm_poll_interval
            else:
                delay = min(self.alarm_poll_interval, next_at - clock.now())
                if delay <= 0:
                    continue  # it came due while we were looking: look again now
            await clock.sleep(delay)

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
                await inst.fire_due()
            except ActorError as exc:
                log.warning("could not wake actor %s for its alarm: %s", actor_id, exc)
            except Exception:
                log.exception("could not wake actor %s for its alarm", actor_id)
            finally:
                self._waking.discard(actor_id)

        self.node.spawn(wake())
