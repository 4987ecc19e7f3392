"""The counter as an actorkit actor, served by ``python -m actorkit serve`` for the benchmark."""

from __future__ import annotations

import os

from actorkit import Actor, ActorOptions, Registry, action

# "actorkit (relaxed)" in the table: state saved at most once a second and replies not held,
# the same guarantee as RivetKit's 1 s save throttle (an acknowledged change can be lost).
RELAXED = os.environ.get("ACTORKIT_BENCH_RELAXED") == "1"


class Counter(Actor):
    state = {"count": 0}
    options = ActorOptions(state_save_interval=1.0 if RELAXED else None)

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        self.broadcast("newCount", self.state["count"])
        return int(self.state["count"])


class SleepyCounter(Counter):
    """The same counter with a short idle timeout, for the cold-wake workload."""

    options = ActorOptions(sleep_timeout=0.5, state_save_interval=1.0 if RELAXED else None)


registry = Registry(Counter, SleepyCounter)
