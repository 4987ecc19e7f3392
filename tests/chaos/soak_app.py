"""The app ``scripts/soak`` serves: rooms that broadcast, schedule reminders to themselves
and sleep after a second idle, so a soak keeps waking, sleeping and firing schedules."""

from __future__ import annotations

from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


class Room(Actor):
    state = {"bumps": 0, "ticks": 0}
    options = ActorOptions(sleep_timeout=1.0)

    @action
    def bump(self) -> int:
        self.state["bumps"] += 1
        self.broadcast("bumped", self.state["bumps"])
        return int(self.state["bumps"])

    @action
    def remind(self, seconds: float) -> str:
        """Schedule a ``tick`` in ``seconds`` (it wakes the room if it sleeps by then)."""
        return self.schedule.after(seconds, "tick")

    @action
    def tick(self) -> None:
        self.state["ticks"] += 1
        self.broadcast("ticked", self.state["ticks"])

    @action
    def get(self) -> dict[str, Any]:
        return dict(self.state)


registry = Registry(Room)
