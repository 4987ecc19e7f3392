"""The counter as an actorkit actor, served by ``python -m actorkit serve`` for the benchmark."""

from __future__ import annotations

from actorkit import Actor, ActorOptions, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        self.broadcast("newCount", self.state["count"])
        return int(self.state["count"])


class SleepyCounter(Counter):
    """The same counter with a short idle timeout, for the cold-wake workload."""

    options = ActorOptions(sleep_timeout=0.5)


registry = Registry(Counter, SleepyCounter)
