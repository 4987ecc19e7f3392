"""An actor with connections that sleeps quickly (hibernation tests).

``on_wake``/``on_sleep`` append to the file named by ``LOBBY_LOG``, so a test can see the
actor sleep without calling it (which would wake it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from actorkit import Actor, ActorOptions, Registry, action


def _log(line: str) -> None:
    with Path(os.environ["LOBBY_LOG"]).open("a") as f:
        f.write(line + "\n")


class Lobby(Actor):
    state = {"n": 0}
    options = ActorOptions(sleep_timeout=0.5)

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params.get("user", "?")}

    def on_wake(self) -> None:
        _log("wake")

    def on_sleep(self) -> None:
        _log("sleep")

    @action
    def whoami(self) -> str:
        return str(self.conn.state["user"])

    @action
    def say(self, text: str) -> None:
        self.broadcast("said", text)


registry = Registry(Lobby)
