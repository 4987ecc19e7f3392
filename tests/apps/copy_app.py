"""The app the storage-copy tests serve on a copied store: every kind of actor data.

``Notebook`` has state, a database (``note`` table), schedules and connection state;
``Tally`` the same without a database (what a PostgreSQL store can serve until actor
databases are stored there). ``benchmarks/storage_copy.py`` generates stores in this app's
formats directly through the driver.
"""

from __future__ import annotations

from typing import Any

from actorkit import Actor, Registry, action


class _Reminders(Actor):
    @action
    def remind(self, seconds: float, text: str) -> str:
        return self.schedule.after(seconds, "fire", text)

    @action
    def fire(self, text: str) -> None:
        self.state["fired"].append(text)

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params.get("user", "?")}

    def _schedules(self) -> list[list[Any]]:
        return [[s.action, s.args] for s in sorted(self.schedule.list(), key=lambda s: s.at)]


class Notebook(_Reminders):
    migrations = ["CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

    def create_state(self, input: dict[str, Any] | None) -> dict[str, Any]:
        return {"title": (input or {}).get("title", ""), "notes": 0, "fired": []}

    @action
    async def add(self, text: str) -> int:
        result = await self.db.execute("INSERT INTO note (text) VALUES (?)", text)
        self.state["notes"] += 1
        return result.last_insert_rowid

    @action
    async def show(self) -> dict[str, Any]:
        rows = await self.db.fetch_all("SELECT id, text FROM note ORDER BY id")
        return {"state": self.state, "notes": rows, "schedules": self._schedules()}


class Tally(_Reminders):
    def create_state(self, input: dict[str, Any] | None) -> dict[str, Any]:
        return {"count": (input or {}).get("start", 0), "fired": []}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        return int(self.state["count"])

    @action
    def show(self) -> dict[str, Any]:
        return {"state": self.state, "schedules": self._schedules()}


registry = Registry(Notebook, Tally)
