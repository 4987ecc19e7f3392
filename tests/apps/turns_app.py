"""The app the turn-runner regression tests serve: connect/disconnect hooks that write
``self.db`` and fail, or ask to destroy or sleep the actor."""

from __future__ import annotations

from typing import Any

from actorkit import Actor, ActorOptions, Registry, UserError, action


class Lobby(Actor):
    state = {"joined": 0, "slept": 0}
    options = ActorOptions(sleep_timeout=300.0, reconnect_grace=0.2)
    migrations = ["CREATE TABLE joins (who TEXT NOT NULL)"]

    async def on_connect(self, conn: Any) -> None:
        mode = conn.params.get("mode")
        await self.db.execute("INSERT INTO joins (who) VALUES (?)", f"connect:{mode}")
        if mode == "fail":
            raise UserError("refused after writing", code="refused")
        if mode == "destroy":
            self.destroy()
        if mode == "sleep":
            self.sleep()
        self.state["joined"] += 1

    async def on_disconnect(self, conn: Any) -> None:
        await self.db.execute("INSERT INTO joins (who) VALUES ('disconnect')")
        if conn.params.get("leave") == "fail":
            raise UserError("refused to leave", code="refused")

    def on_sleep(self) -> None:
        self.state["slept"] += 1

    @action
    async def joins(self) -> list[str]:
        rows = await self.db.fetch_all("SELECT who FROM joins ORDER BY rowid")
        return [row["who"] for row in rows]

    @action
    def counts(self) -> dict[str, int]:
        return dict(self.state)


class Tally(Actor):
    state = {"count": 0}

    @action
    def add(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def read(self) -> int:
        return int(self.state["count"])


registry = Registry(Lobby, Tally)
