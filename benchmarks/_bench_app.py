"""The actor the HTTP benchmark calls."""

from __future__ import annotations

from actorkit import Actor, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])


registry = Registry(Counter)
