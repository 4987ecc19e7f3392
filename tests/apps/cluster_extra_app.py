"""A second app for cluster tests: the cluster app's ``Counter`` plus a type only this
app has, so a cluster can mix nodes that host different actor types."""

from __future__ import annotations

import os

from tests.apps.cluster_app import Counter

from actorkit import Actor, Registry, action


class Extra(Actor):
    state = {"calls": 0}

    @action
    def hello(self) -> list[int]:
        self.state["calls"] += 1
        return [os.getpid(), int(self.state["calls"])]


registry = Registry(Counter, Extra)
