"""Helpers for testing actors: an in-process client and a controllable clock.

Example::

    from actorkit.testing import MockClock

    async def test_room_sleeps() -> None:
        clock = MockClock()
        async with registry.test_client(clock=clock) as client:
            room = client.get_or_create(Room, "a")
            await room.join("ann")
            await clock.advance(31)      # idle longer than sleep_timeout: the room sleeps
"""

from __future__ import annotations

from actorkit._runtime.clock import Clock, MockClock, SystemClock, settle

__all__ = ["Clock", "MockClock", "SystemClock", "settle"]
