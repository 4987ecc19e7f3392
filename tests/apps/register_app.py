"""A single register, for linearizability tests (tests/test_cluster_linearizable.py).

``read``, ``write`` and ``cas`` are the operations of ``register_model`` in
tests/linearizability.py; ``pid`` tells a test which node process owns the actor.
"""

from __future__ import annotations

import os
from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


class Register(Actor):
    state = {"value": None}
    # Awake for the whole test: ownership moves only when the chaos moves it.
    options = ActorOptions(sleep_timeout=300.0, action_timeout=30.0)

    @action
    def read(self) -> Any:
        return self.state["value"]

    @action
    def write(self, value: Any) -> None:
        self.state["value"] = value

    @action
    def cas(self, expected: Any, new: Any) -> bool:
        """Compare and set: ``new`` if the value is ``expected``; whether it swapped."""
        if self.state["value"] != expected:
            return False
        self.state["value"] = new
        return True

    @action
    def pid(self) -> int:
        return os.getpid()


registry = Registry(Register)
