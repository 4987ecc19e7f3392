"""The chat example (examples/chat/app.py) as the docs use it, in-process."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from actorkit import ActorError
from server_fixtures import ROOT


def chat_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_app", ROOT / "examples/chat/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_chat_stateless_calls_need_a_user_and_send_needs_a_connection() -> None:
    chat = chat_module()
    async with chat.registry.test_client("memory://") as client:
        with pytest.raises(ActorError) as refused:
            await client.get_or_create("chat_room", "lobby").action("history")
        assert refused.value.code == "bad_user"
        room = client.get_or_create("chat_room", "lobby", params={"user": "ann"})
        assert await room.action("history") == []
        with pytest.raises(ActorError) as stateless:
            await room.action("send", "hello")
        assert stateless.value.code == "not_connected"
        async with room.connect() as conn:
            sent = await conn.action("send", "hello")
        assert sent["user"] == "ann" and sent["text"] == "hello"
        assert [m["text"] for m in await room.action("history")] == ["hello"]
