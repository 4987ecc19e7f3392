"""A todo list per user: each user's todos live in that user's own SQLite database.

Run it: ``python examples/todos.py [DATA_DIR]`` (default ``./.actorkit``). See docs/sql.md.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from actorkit import Actor, ActorError, Registry, UserError, action


class TodoList(Actor):
    """One actor per user: ``client.get_or_create(TodoList, [user_id])``."""

    state = {"open": 0}  # a counter kept in state, always in step with the table
    migrations = [
        "CREATE TABLE todo (id INTEGER PRIMARY KEY, text TEXT NOT NULL, done INTEGER NOT NULL)",
        "CREATE INDEX todo_done ON todo (done)",
    ]

    @action
    async def add(self, text: str) -> int:
        if not text.strip():
            raise UserError("a todo needs some text", code="empty_todo")
        result = await self.db.execute("INSERT INTO todo (text, done) VALUES (?, 0)", text)
        self.state["open"] += 1
        return result.last_insert_rowid

    @action
    async def complete(self, todo_id: int) -> None:
        result = await self.db.execute(
            "UPDATE todo SET done = 1 WHERE id = :id AND done = 0", {"id": todo_id}
        )
        if result.rows_affected == 0:
            raise UserError(f"no open todo {todo_id}", code="no_such_todo")
        self.state["open"] -= 1

    @action
    async def import_all(self, texts: list[str]) -> int:
        """All or nothing: a blank entry rolls back the inserts before it, and the state."""
        for text in texts:
            await self.add(text)  # a plain method call inside the same turn
        return len(texts)

    @action
    async def todos(self, only_open: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT id, text, done FROM todo"
        if only_open:
            sql += " WHERE done = 0"
        return await self.db.fetch_all(sql + " ORDER BY id")

    @action
    def open_count(self) -> int:
        return int(self.state["open"])


registry = Registry(TodoList)


async def main(directory: str = ".actorkit") -> None:
    async with registry.test_client(f"sqlite:///{directory}") as client:
        alice = client.get_or_create(TodoList, ["alice"])
        bob = client.get_or_create(TodoList, ["bob"])
        milk = await alice.add("buy milk")
        await alice.add("write docs")
        await bob.add("fix bike")
        await alice.complete(milk)
        try:
            await alice.import_all(["call mum", "   "])
        except ActorError as err:
            print(f"import failed: {err.code}")  # empty_todo; "call mum" was rolled back
        print("alice:", await alice.todos(True), await alice.open_count())
        print("bob:", await bob.todos())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
