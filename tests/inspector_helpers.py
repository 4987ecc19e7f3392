"""Servers and helpers for the inspector tests (API and browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server_fixtures import ServerProcess

INSPECTOR_APP = "tests/apps/inspector_app.py:registry"
TOKEN = "s3cret-token/with+odd=chars"


def dev_server(data: Path) -> ServerProcess:
    """``actorkit dev`` (inspector open, console on) on a fresh SQLite directory."""
    return ServerProcess(
        INSPECTOR_APP, f"sqlite:///{data}", command="dev", args=["--no-reload"]
    ).start()


def token_server(data: Path) -> ServerProcess:
    """``actorkit serve`` with ``ACTORKIT_INSPECTOR_TOKEN`` set (no console)."""
    return ServerProcess(
        INSPECTOR_APP, f"sqlite:///{data}", env={"ACTORKIT_INSPECTOR_TOKEN": TOKEN}
    ).start()


def create(url: str, name: str, key: list[str], **headers: str) -> str:
    reply = httpx.put(f"{url}/actors", json={"name": name, "key": key}, headers=headers)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["actor_id"])


def call(url: str, actor_id: str, action: str, *args: Any) -> Any:
    reply = httpx.post(f"{url}/actors/{actor_id}/actions/{action}", json={"args": list(args)})
    assert reply.status_code == 200, reply.text
    return reply.json()["output"]


# Module-scoped servers shared by the inspector test files (import the fixture by name).
@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = dev_server(tmp_path_factory.mktemp("dev") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = token_server(tmp_path_factory.mktemp("token") / "data")
    yield server
    server.stop()
