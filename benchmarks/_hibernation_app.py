"""The app of benchmarks/hibernation.py: rooms that sleep one second after going idle."""

from __future__ import annotations

from actorkit import Actor, ActorOptions, Registry, action


class Room(Actor):
    state = {"messages": 0}
    options = ActorOptions(sleep_timeout=1.0)

    @action
    def post(self) -> int:
        self.state["messages"] += 1
        self.broadcast("tick", self.state["messages"])
        return int(self.state["messages"])


registry = Registry(Room)
