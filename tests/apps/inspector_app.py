"""The app the inspector tests serve: an untyped counter, a typed profile, a scheduler."""

from __future__ import annotations

from typing import Any

import msgspec

from actorkit import Actor, Registry, UserError, action


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


registry = Registry(Counter, Person, Reminder)
