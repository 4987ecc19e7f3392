"""Helpers for WebSocket tests: polling, a raw protocol socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 30.0
) -> T:
    """Poll ``probe()`` until ``check`` holds (generous timeout; no timing assertions)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if check(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.05)


def room_params(user: str) -> dict[str, str]:
    return {"token": "ok", "user": user}


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg)
