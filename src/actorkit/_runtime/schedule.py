"""Durable schedules: ``self.schedule.after(…)`` / ``.at(…)`` call an action later.

Each scheduled call is stored in the actor's data (``sched:<id>``) in the same batch as the
state changes of the turn that made it, and the actor's alarm is set to the earliest one, so
a schedule survives sleep, restarts and crashes, and wakes a sleeping actor. Firing is
at-least-once: the call's state changes and the schedule's removal commit together; a call
that raises is retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import msgspec

from actorkit._runtime.lifecycle import Retry
from actorkit.errors import ActorError, Code, validation_error

if TYPE_CHECKING:
    from actorkit._runtime.instance import ActorInstance

__all__ = ["SCHEDULE_PREFIX", "Schedule", "ScheduleFiring", "ScheduledCall"]

SCHEDULE_PREFIX = b"sched:"


class ScheduledCall(msgspec.Struct, frozen=True):
    """A pending scheduled call."""

    id: str
    action: str
    args: list[Any]
    at: float  # seconds since the epoch
    created_at: float
    attempt: int = 0  # failed attempts so far


class ScheduleFiring(msgspec.Struct, frozen=True):
    """What a scheduled action sees as ``self.schedule.current`` while it runs."""

    id: str
    scheduled_at: float
    fired_at: float
    attempt: int  # 1 for the first try


current_firing: ContextVar[tuple[str, ScheduleFiring] | None] = ContextVar(
    "actorkit_firing", default=None
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ScheduledCall)


class Schedule:
    """``self.schedule``: durable timers that call one of the actor's actions.

    Example::

        @action
        def remind(self, text: str) -> str:
            return self.schedule.after(3600, "send_reminder", text)

        @action
        def send_reminder(self, text: str) -> None:
            firing = self.schedule.current      # id, scheduled_at, fired_at, attempt
            ...
    """

    def __init__(self, inst: ActorInstance) -> None:
        self._inst = inst
        self.calls: dict[str, ScheduledCall] = {}
        self.alarm_dirty = False
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None

    # -- public API ------------------------------------------------------------------------

    def after(self, seconds: float, action: str, *args: Any) -> str:
        """Call ``action(*args)`` in ``seconds`` seconds; returns the schedule id."""
        if not isinstance(seconds, int | float) or seconds != seconds:
            raise validation_error("schedule.after: seconds must be a number")
        return self._add(self._inst.node.clock.now() + max(0.0, float(seconds)), action, args)

    def at(self, when: float | dt.datetime, action: str, *args: Any) -> str:
        """Call ``action(*args)`` at ``when`` (epoch seconds or an aware datetime)."""
        if isinstance(when, dt.datetime):
            if when.tzinfo is None:
                raise validation_error("schedule.at: datetime must be timezone-aware")
            timestamp = when.timestamp()
        elif isinstance(when, int | float) and when == when:
            timestamp = float(when)
        else:
            raise validation_error("schedule.at: when must be a datetime or epoch seconds")
        return self._add(timestamp, action, args)

    def cancel(self, schedule_id: str) -> bool:
        """Cancel a pending call; returns whether it existed."""
        if schedule_id not in self.calls:
            return False
        del self.calls[schedule_id]
        self._inst.stage(SCHEDULE_PREFIX + schedule_id.encode(), None)
        self.alarm_dirty = True
        return True

    def get(self, schedule_id: str) -> ScheduledCall | None:
        """The pending call with this id, or ``None``."""
        return self.calls.get(schedule_id)

    def list(self) -> list[ScheduledCall]:
        """Pending calls, earliest first."""
        return sorted(self.calls.values(), key=lambda c: (c.at, c.id))

    @property
    def current(self) -> ScheduleFiring | None:
        """Firing info while a scheduled call runs; ``None`` in an ordinary call."""
        firing = current_firing.get()
        if firing is None or firing[0] != self._inst.id:
            return None
        return firing[1]

    # -- runtime side ------------------------------------------------------------------------

    def _add(self, at: float, action: str, args: tuple[Any, ...]) -> str:
        self._inst.definition.action(action)  # action_not_found now, not at firing time
        limit = self._inst.definition.options.max_schedules
        if len(self.calls) >= limit:
            raise ActorError(
                "actor",
                Code.TOO_MANY_SCHEDULES,
                f"actor already has {limit} pending schedules",
                {"limit": limit},
            )
        try:
            builtin_args = msgspec.to_builtins(list(args))
        except (TypeError, ValueError) as exc:
            raise validation_error(f"schedule arguments cannot be serialized: {exc}") from None
        call = ScheduledCall(
            id=uuid.uuid4().hex[:16],
            action=action,
            args=builtin_args,
            at=at,
            created_at=self._inst.node.clock.now(),
        )
        self._put(call)
        return call.id

    def _put(self, call: ScheduledCall) -> None:
        self.calls[call.id] = call
        self._inst.stage(SCHEDULE_PREFIX + call.id.encode(), _encoder.encode(call))
        self.alarm_dirty = True

    def load(self, data: dict[bytes, bytes]) -> None:
        for key, value in data.items():
            if key.startswith(SCHEDULE_PREFIX):
                call = _decoder.decode(value)
                self.calls[call.id] = call

    def next_at(self) -> float | None:
        return min((c.at for c in self.calls.values()), default=None)

    def retry_or_drop(self, call: ScheduledCall) -> None:
        """After a failed firing: back off and retry, or give up after the last attempt."""
        options = self._inst.definition.options
        attempt = call.attempt + 1
        if attempt > options.schedule_max_retries:
            self._inst.log.error(
                "scheduled call %s (%s) failed %d times; dropping it",
                call.id,
                call.action,
                attempt,
            )
            self.cancel(call.id)
            return
        delay = min(options.schedule_retry_base * 2 ** (attempt - 1), 3600.0)
        now = self._inst.node.clock.now()
        self._put(msgspec.structs.replace(call, attempt=attempt, at=now + delay))

    def arm(self) -> None:
        """(Re)start the timer for the earliest pending call."""
        next_at = self.next_at()
        if next_at is None:
            self.disarm()
            return
        if self._timer is not None and self._timer_at is not None and self._timer_at <= next_at:
            return
        self.disarm()
        self._timer_at = next_at
        # A fresh context: the calls it fires are not part of the call that armed it.
        self._timer = asyncio.get_running_loop().create_task(
            self._wait_and_fire(next_at), context=contextvars.Context()
        )

    def disarm(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    async def fire_due(self) -> None:
        """Run every scheduled call that is due, one turn each, earliest first."""
        inst = self._inst
        while inst.serving:
            now = inst.node.clock.now()
            due = [c for c in self.list() if c.at <= now]
            if not due:
                break
            for call in due:
                await self._fire(call)
        if inst.serving:
            self.arm()

    async def _fire(self, call: ScheduledCall) -> None:
        inst = self._inst

        async def body() -> None:
            if call.id not in self.calls:
                return  # cancelled, or fired by an earlier turn
            firing = ScheduleFiring(call.id, call.at, inst.node.clock.now(), call.attempt + 1)
            token = current_firing.set((inst.id, firing))
            try:
                inst.emit("schedule", id=call.id, action=call.action, attempt=firing.attempt)
                spec = inst.definition.action(call.action)
                await inst._invoke(spec, spec.bind(call.args), None)
                self.cancel(call.id)
            finally:
                current_firing.reset(token)

        def retry(exc: BaseException) -> None:
            inst.log.warning("scheduled call %s (%s) failed: %s", call.id, call.action, exc)
            self.retry_or_drop(call)

        # A failure was logged by ``retry``; if the actor stopped, the call stays stored.
        with contextlib.suppress(Exception, Retry):
            await inst.turn(body, recover=retry)

    async def _wait_and_fire(self, at: float) -> None:
        clock = self._inst.node.clock
        await clock.sleep(at - clock.now())
        self._timer = None
        self._timer_at = None
        await self.fire_due()
