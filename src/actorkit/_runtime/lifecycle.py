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


NEXT: dict[Lifecycle, set[Lifecycle]] = {
    Lifecycle.LOADING: {Lifecycle.AWAKE, Lifecycle.STOPPED},
    Lifecycle.AWAKE: {Lifecycle.STOPPING},
    Lifecycle.STOPPING: {Lifecycle.STOPPED, Lifecycle.DESTROYED},
    Lifecycle.STOPPED: set(),
    Lifecycle.DESTROYED: set(),
}


class Retry(Exception):
    """Internal: the instance stopped before the call got its turn; route it again."""
