"""The app of tests/test_dx_actions_*.py: keyword arguments and an internal action."""

from __future__ import annotations

from typing import Any

from actorkit import Actor, Registry, action


class Notes(Actor):
    state = {"notes": [], "expired": []}

    @action
    def add(self, text: str, tag: str = "misc", urgent: bool = False) -> dict[str, Any]:
        note = {"text": text, "tag": tag, "urgent": urgent}
        self.state["notes"].append(note)
        return note

    @action
    def greet(self, name: str, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    @action
    def count(self) -> int:
        return len(self.state["notes"])

    @action
    def sum(self, first: int, *rest: int) -> int:
        return first + sum(rest)

    @action(internal=True)
    def expire(self, reason: str = "timer") -> list[str]:
        """Only the app may call this: a schedule, the actor itself, another actor."""
        self.state["expired"].append(reason)
        self.broadcast("expired", reason)
        return list(self.state["expired"])

    @action
    def expired(self) -> list[str]:
        return list(self.state["expired"])

    @action
    def expire_later(self) -> str:
        return self.schedule.after(0, "expire", "scheduled")

    @action
    def expire_self(self) -> list[str]:
        return self.expire(reason="self")

    @action
    async def expire_other(self, key: str) -> list[str]:
        return await self.client.get_or_create(Notes, key).expire(reason=f"from {self.key[0]}")

    @action(interleave=True)
    async def expire_other_interleaved(self, key: str) -> list[str]:
        return await self.client.get_or_create(Notes, key).action("expire", "interleaved")


registry = Registry(Notes)
