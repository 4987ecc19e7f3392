"""The app of ``tests/test_ws_resources.py``: the realtime room, and one with big replies."""

from __future__ import annotations

from realtime_app import Room  # tests/apps is on sys.path when served by file

from actorkit import Registry, action


class Hoard(Room):
    """The room, with replies as big as asked for."""

    @action
    def blob(self, size: int) -> str:
        return "x" * size


registry = Registry(Room, Hoard)
