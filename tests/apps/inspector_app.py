"""The app the inspector tests serve: an untyped counter, a typed profile, a scheduler."""

from __future__ import annotations

from typing import Any

import msgspec

from actorkit import Actor, ActorOptions, Registry, UserError, action


class Counter(Actor):
    state = {"count": 0, "history": []}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        self.state["history"].append(amount)
        self.broadcast("changed", self.state["count"])
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    @action
    def fail(self) -> None:
        raise UserError("nope", code="refused", metadata={"why": "on purpose"})


class Profile(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []


class Person(Actor):
    state = Profile(name="anon", age=0)

    @action
    def rename(self, name: str) -> str:
        self.state.name = name
        return name

    @action
    def profile(self) -> dict[str, Any]:
        return msgspec.to_builtins(self.state)  # type: ignore[no-any-return]


class Reminder(Actor):
    state = {"fired": 0}

    @action
    def remind_later(self, seconds: float, text: str) -> str:
        return self.schedule.after(seconds, "fire", text)

    @action
    def fire(self, text: str) -> str:
        self.state["fired"] += 1
        return text


class Notebook(Actor):
    state = {"notes": 0}
    migrations = ["CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

    @action
    async def add(self, *texts: str) -> int:
        await self.db.executemany("INSERT INTO note (text) VALUES (?)", [(t,) for t in texts])
        self.state["notes"] += len(texts)
        return int(self.state["notes"])

    @action
    async def count(self) -> int:
        row = await self.db.fetch_one("SELECT count(*) AS n FROM note")
        return int(row["n"]) if row else 0


class Lobby(Actor):
    state = {"left": 0}

    def create_conn_state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": params.get("user"), "seen": 0}

    def on_disconnect(self, conn: Any) -> None:
        self.state["left"] += 1

    @action
    def left(self) -> int:
        return int(self.state["left"])


class Napper(Actor):
    """Falls asleep two seconds after its last call."""

    options = ActorOptions(sleep_timeout=2.0)
    state = {"naps": 0}

    @action
    def poke(self) -> int:
        self.state["naps"] += 1
        return int(self.state["naps"])


registry = Registry(Counter, Person, Reminder, Notebook, Lobby, Napper)
