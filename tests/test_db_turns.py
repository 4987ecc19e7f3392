"""How database work joins the actor's turn: timeouts, hooks, interleaved actions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actorkit import Actor, ActorError, Registry, UserError, action
from runtime_helpers import node_of

SPIN = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"


class Journal(Actor):
    state = {"entries": 0, "sleeps": 0}
    migrations = ["CREATE TABLE entry (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"]

    async def on_create(self, input: Any) -> None:
        await self.db.execute("INSERT INTO entry (text) VALUES ('created')")
        self.state["entries"] += 1

    async def on_sleep(self) -> None:
        await self.db.execute("INSERT INTO entry (text) VALUES ('slept')")
        self.state["sleeps"] += 1

    @action(timeout=0.3)
    async def write_then_hang(self) -> None:
        await self.db.execute("INSERT INTO entry (text) VALUES ('lost')")
        self.state["entries"] += 1
        await self.db.fetch_one(SPIN)  # interrupted when the action times out

    @action(interleave=True)
    async def side_note(self, text: str) -> int:
        result = await self.db.execute("INSERT INTO entry (text) VALUES (?)", text)
        await asyncio.sleep(0)
        return result.last_insert_rowid

    @action
    async def add_and_call_side(self, text: str) -> int:
        await self.db.execute("INSERT INTO entry (text) VALUES (?)", text)
        self.state["entries"] += 1
        return int(self.state["entries"])

    @action
    async def save_midway_then_fail(self) -> None:
        await self.db.execute("INSERT INTO entry (text) VALUES ('saved')")
        self.state["entries"] += 1
        await self.save_state()  # commits the db work so far, with the state
        await self.db.execute("INSERT INTO entry (text) VALUES ('undone')")
        self.state["entries"] += 1
        raise UserError("late failure", code="late")

    @action
    async def texts(self) -> list[str]:
        rows = await self.db.fetch_all("SELECT text FROM entry ORDER BY id")
        return [row["text"] for row in rows]

    @action
    def counters(self) -> dict[str, int]:
        return dict(self.state)


registry = Registry(Journal)


async def test_db_action_timeout_interrupts_and_rolls_back(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Journal, "j")
        with pytest.raises(ActorError) as info:
            await h.write_then_hang()
        assert info.value.code == "action_timeout"
        assert await h.texts() == ["created"]
        assert (await h.counters())["entries"] == 1
        assert await h.add_and_call_side("after") == 2


async def test_db_hooks_write_inside_their_turn(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Journal, "j")
        await node_of(client).sleep_actor(await h.resolve())
        assert await h.texts() == ["created", "slept"]
        assert await h.counters() == {"entries": 1, "sleeps": 1}


async def test_db_interleaved_actions_commit_on_their_own(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Journal, "j")
        results = await asyncio.gather(
            *(h.side_note(f"side-{i}") for i in range(10)),
            *(h.add_and_call_side(f"turn-{i}") for i in range(10)),
        )
        assert sorted(results[10:]) == list(range(2, 12))
        texts = await h.texts()
        assert sorted(texts) == sorted(
            ["created", *(f"side-{i}" for i in range(10)), *(f"turn-{i}" for i in range(10))]
        )


async def test_db_failure_after_save_state_reloads_what_is_durable(db_storage_url: str) -> None:
    async with registry.test_client(db_storage_url) as client:
        h = client.get_or_create(Journal, "j")
        with pytest.raises(ActorError) as info:
            await h.save_midway_then_fail()
        assert info.value.code == "late"
        # The instance was dropped; the next call reloads state and rows that agree.
        assert await h.texts() == ["created", "saved"]
        assert (await h.counters())["entries"] == 2
