"""A live feed of what actors do: actions, state changes, broadcasts, connections, sleep/wake.

The inspector subscribes to it; it costs nothing on the hot path while nobody listens
(``active`` is checked before building an event). The last ``history`` events are kept so a
new subscriber sees recent activity.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Activity", "ActivityEvent"]

log = logging.getLogger("actorkit.activity")

ActivityEvent = dict[str, Any]
Listener = Callable[[ActivityEvent], None]


class Activity:
    """Publish/subscribe of activity events, with a bounded history.

    Event kinds: ``create``, ``wake``, ``sleep``, ``destroy``, ``action`` (name, args, output
    or error, duration_ms), ``state`` (the new state), ``broadcast`` (event, args),
    ``connect`` / ``disconnect`` (conn_id), ``schedule`` (id, action), ``error``.
    """

    def __init__(self, history: int = 1000) -> None:
        self._listeners: dict[int, Listener] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.recent: collections.deque[ActivityEvent] = collections.deque(maxlen=history)
        self.active = False
        self._record = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns an unsubscribe function."""
        key = next(self._ids)
        self._listeners[key] = listener
        self.active = True

        def unsubscribe() -> None:
            self._listeners.pop(key, None)
            self.active = bool(self._listeners) or self._record

        return unsubscribe

    def keep_history(self, enabled: bool = True) -> None:
        """Record events even with no listener (the inspector turns this on)."""
        self._record = enabled
        self.active = bool(self._listeners) or enabled

    def emit(self, kind: str, actor_id: str, actor_name: str, **data: Any) -> None:
        if not self.active:
            return
        event: ActivityEvent = {
            "seq": next(self._seq),
            "time": time.time(),
            "kind": kind,
            "actor_id": actor_id,
            "actor_name": actor_name,
            **data,
        }
        self.recent.append(event)
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:
                log.exception("activity listener failed")
