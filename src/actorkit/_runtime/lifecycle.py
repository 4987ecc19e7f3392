"""The states of an actor instance, and the signal to route a call again."""

from __future__ import annotations

import enum

__all__ = ["NEXT", "Lifecycle", "Retry"]


class Lifecycle(enum.Enum):
    """Where an instance is in its life. Transitions only go forward."""

    LOADING = "loading"  # loading state and running create/wake hooks; not serving yet
    AWAKE = "awake"  # serving calls
    STOPPING = "stopping"  # going to sleep or being destroyed; new calls go to the next wake
    STOPPED = "stopped"  # asleep: the instance is discarded, state is durable
    DESTROYED = "destroyed"  # deleted with all its data
    LOST = "lost"  # another activation took the actor over (a write was fenced): serves nothing


NEXT: dict[Lifecycle, set[Lifecycle]] = {
    Lifecycle.LOADING: {Lifecycle.AWAKE, Lifecycle.STOPPED, Lifecycle.LOST},
    Lifecycle.AWAKE: {Lifecycle.STOPPING, Lifecycle.LOST},
    Lifecycle.STOPPING: {Lifecycle.STOPPED, Lifecycle.DESTROYED, Lifecycle.LOST},
    Lifecycle.STOPPED: set(),
    Lifecycle.DESTROYED: set(),
    Lifecycle.LOST: set(),
}


class Retry(Exception):
    """Internal: the instance stopped before the call got its turn; route it again."""
