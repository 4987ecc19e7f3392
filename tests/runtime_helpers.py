"""Helpers for tests that look inside an in-process node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from actorkit import AsyncClient
from actorkit._runtime.node import Node


def node_of(client: AsyncClient) -> Node:
    """The node behind a ``registry.test_client()``."""
    node: Node = client._transport.node  # type: ignore[attr-defined]
    return node


def awake(client: AsyncClient, actor_id: str) -> bool:
    return actor_id in node_of(client).instances


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` in real time (storage I/O runs in threads, outside the mock clock)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)
