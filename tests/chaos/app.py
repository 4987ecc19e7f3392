"""The app the chaos runs serve: the linearizability tests' register, and a counter whose
``add`` returns the new total (``counter_model`` in chaos/workload.py).

Counters sleep after half a second idle, so the runs also cross sleep and wake.
"""

from __future__ import annotations

from tests.apps.register_app import Register

from actorkit import Actor, ActorOptions, Registry, action


class Counter(Actor):
    state = {"count": 0}
    options = ActorOptions(sleep_timeout=0.5, action_timeout=30.0)

    @action
    def add(self, amount: int) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])


registry = Registry(Register, Counter)
