"""Idempotent calls: a repeat with the same ``Idempotency-Key`` returns the first outcome.

Against a real ``actorkit serve`` process (HTTP, WebSocket) and, where time must move, the
in-process client with a ``MockClock``. Crash and pause scenarios: test_idempotency_crash.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actorkit import Actor, ActorError, ActorOptions, AsyncClient, Registry, action
from actorkit.client.connection import ConnectionStatus
from actorkit.options import DEFAULT_IDEMPOTENCY_WINDOW
from actorkit.testing import MockClock
from apps.idempotency_app import Ledger
from apps.idempotency_app import registry as ledger_registry
from server_fixtures import ServerProcess
from ws_helpers import eventually

IDEM_APP = "tests/apps/idempotency_app.py:registry"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("idem") / "data"
    proc = ServerProcess(IDEM_APP, f"sqlite:///{data}").start()
    yield proc
    proc.stop()


def new_actor(url: str, key: str) -> str:
    reply = httpx.put(url + "/actors", json={"name": "ledger", "key": [key]}, timeout=30)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["actor_id"])


def post(url: str, actor_id: str, action: str, args: list[Any], key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return httpx.post(
        f"{url}/actors/{actor_id}/actions/{action}",
        json={"args": args},
        headers=headers,
        timeout=60,
    )


def counts(url: str, actor_id: str) -> dict[str, int]:
    reply = post(url, actor_id, "counts", [], None)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["output"])


def test_idempotency_repeat_returns_first_output_without_running(server: ServerProcess) -> None:
    actor_id = new_actor(server.url, "repeat")
    first = post(server.url, actor_id, "add", [5], "order-1")
    assert first.status_code == 200, first.text
    for _ in range(3):
        again = post(server.url, actor_id, "add", [5], "order-1")
        assert (again.status_code, again.json()) == (200, first.json())
    other = post(server.url, actor_id, "add", [5], "order-2")
    assert other.json()["output"]["run"] == 2  # a new key is a new call
    assert counts(server.url, actor_id) == {"runs": 2, "total": 10, "executions": 2, "waiting": 0}


def test_idempotency_key_reused_for_other_call_is_422(server: ServerProcess) -> None:
    actor_id = new_actor(server.url, "reused")
    assert post(server.url, actor_id, "add", [1], "k").status_code == 200
    for name, args in (("add", [2]), ("refuse", [1])):
        reply = post(server.url, actor_id, name, args, "k")
        assert reply.status_code == 422, reply.text
        assert reply.json()["code"] == "idempotency_key_reused"
    assert counts(server.url, actor_id)["executions"] == 1


def test_idempotency_key_must_be_short_visible_ascii(server: ServerProcess) -> None:
    actor_id = new_actor(server.url, "bad-keys")
    for bad in ("x" * 256, "", "a b"):
        reply = post(server.url, actor_id, "add", [1], bad)
        assert reply.status_code == 400, (bad, reply.text)
        body = reply.json()
        assert body["code"] == "validation_error"
        assert body["metadata"] == {"field": "idempotency_key", "max_length": 255}
    assert post(server.url, actor_id, "add", [1], "x" * 255).status_code == 200
    assert counts(server.url, actor_id)["executions"] == 1


def test_idempotency_user_error_is_the_remembered_outcome(server: ServerProcess) -> None:
    actor_id = new_actor(server.url, "refuse")
    replies = [post(server.url, actor_id, "refuse", [3], "r") for _ in range(3)]
    assert {r.status_code for r in replies} == {400}
    bodies = [r.json() for r in replies]
    assert bodies[0]["code"] == "refused"
    assert bodies[0]["metadata"] == {"execution": 1}
    assert bodies == [bodies[0]] * 3
    assert counts(server.url, actor_id) == {"runs": 0, "total": 0, "executions": 1, "waiting": 0}


async def test_idempotency_repeat_while_first_runs_gets_its_result(server: ServerProcess) -> None:
    actor_id = new_actor(server.url, "in-flight")
    url = f"{server.url}/actors/{actor_id}/actions/held_add"
    headers = {"Idempotency-Key": "same"}
    async with httpx.AsyncClient(timeout=30) as http:
        first = asyncio.ensure_future(http.post(url, json={"args": [4]}, headers=headers))
        await eventually(lambda: asyncio.to_thread(counts, server.url, actor_id), _waiting)
        repeats = [
            asyncio.ensure_future(http.post(url, json={"args": [4]}, headers=headers))
            for _ in range(3)
        ]
        await asyncio.to_thread(post, server.url, actor_id, "release", [], None)
        replies = await asyncio.gather(first, *repeats)
    assert [r.status_code for r in replies] == [200] * 4
    assert all(r.json() == replies[0].json() for r in replies)
    assert replies[0].json()["output"]["run"] == 1
    assert counts(server.url, actor_id) == {"runs": 1, "total": 4, "executions": 1, "waiting": 1}


def _waiting(c: dict[str, int]) -> bool:
    return c["waiting"] >= 1


async def test_idempotency_client_sends_a_key_and_accepts_ours(server: ServerProcess) -> None:
    async with AsyncClient(server.url) as client:
        ledger = client.get_or_create(Ledger, "client")
        first = await ledger.action("add", 2, idempotency_key="client-1")
        assert await ledger.action("add", 2, idempotency_key="client-1") == first
        assert (await ledger.add(2))["run"] == 2  # a generated key: a new call each time
        with pytest.raises(ActorError) as info:
            await ledger.action("add", 3, idempotency_key="client-1")
        assert info.value.code == "idempotency_key_reused"
        assert (await ledger.counts())["executions"] == 2


async def test_idempotency_websocket_resends_in_flight_call_after_reconnect(
    server: ServerProcess,
) -> None:
    async with AsyncClient(server.url) as client:
        ledger = client.get_or_create(Ledger, "ws")
        async with ledger.connect() as conn:
            call = asyncio.ensure_future(conn.held_add(6))
            await eventually(ledger.counts, _waiting)
            link = conn._link
            assert link is not None
            link._ws.transport.abort()  # type: ignore[attr-defined]  # the socket breaks
            await eventually(lambda: _status(conn), lambda s: s is not ConnectionStatus.CONNECTED)
            await ledger.release()  # the call finishes on the server, its reply has no socket
            result = await call  # sent again after the reconnect, answered from the outcome
            assert conn.status is ConnectionStatus.CONNECTED
        assert result["run"] == 1
        assert await ledger.counts() == {"runs": 1, "total": 6, "executions": 1, "waiting": 1}


async def _status(conn: Any) -> ConnectionStatus:
    status: ConnectionStatus = conn.status
    return status


# -- the window and the bound, with a test clock ------------------------------------------


class Small(Actor):
    state = {"runs": 0}
    options = ActorOptions(idempotency_max_keys=2)

    @action
    def add(self) -> int:
        self.state["runs"] += 1
        return int(self.state["runs"])


class Brief(Actor):
    state = {"runs": 0}
    options = ActorOptions(idempotency_window=60.0)

    @action
    def add(self) -> int:
        self.state["runs"] += 1
        return int(self.state["runs"])


async def _stored_keys(client: AsyncClient, actor_id: str) -> set[bytes]:
    driver = client._transport.node.driver  # type: ignore[attr-defined]
    data = await driver.load(actor_id)
    return {k for k in data if k.startswith(b"idem/")}


async def test_idempotency_outcome_expires_after_the_window(tmp_path: Path) -> None:
    clock = MockClock()
    registry = Registry(Brief)
    async with registry.test_client(f"sqlite:///{tmp_path / 'd'}", clock=clock) as client:
        brief = client.get_or_create(Brief, "window")
        assert await brief.action("add", idempotency_key="k") == 1
        await clock.advance(59)
        assert not client._transport.node.instances  # type: ignore[attr-defined]  # asleep
        assert await brief.action("add", idempotency_key="k") == 1
        await clock.advance(2)
        assert await brief.action("add", idempotency_key="k") == 2  # forgotten: a new call
        assert await _stored_keys(client, await brief.resolve()) == {b"idem/k"}


def test_idempotency_window_default_is_a_day() -> None:
    assert DEFAULT_IDEMPOTENCY_WINDOW == ActorOptions().idempotency_window == 24 * 3600


async def test_idempotency_keeps_at_most_max_keys_per_actor(tmp_path: Path) -> None:
    registry = Registry(Small)
    async with registry.test_client(f"sqlite:///{tmp_path / 'd'}") as client:
        small = client.get_or_create(Small, "bound")
        assert [await small.action("add", idempotency_key=k) for k in "abc"] == [1, 2, 3]
        actor_id = await small.resolve()
        assert await _stored_keys(client, actor_id) == {b"idem/b", b"idem/c"}
        assert await small.action("add", idempotency_key="c") == 3  # still remembered
        assert await small.action("add", idempotency_key="a") == 4  # evicted: runs again
        assert await _stored_keys(client, actor_id) == {b"idem/c", b"idem/a"}


async def test_idempotency_read_only_call_is_not_written(tmp_path: Path) -> None:
    """A call that changed nothing costs no write: its outcome stays in memory."""
    url = f"sqlite:///{tmp_path / 'd'}"
    async with ledger_registry.test_client(url) as client:
        ledger = client.get_or_create(Ledger, "reads")
        await ledger.add(1)
        node = client._transport.node  # type: ignore[attr-defined]
        commits = node.committer.commits
        assert await ledger.action("total", idempotency_key="read") == 1
        await ledger.add(1)
        assert await ledger.action("total", idempotency_key="read") == 1  # the first outcome
        assert node.committer.commits == commits + 1  # only the add was written
        assert await _stored_keys(client, await ledger.resolve()) == set()


class Relaxed(Actor):
    state = {"runs": 0}
    options = ActorOptions(state_save_interval=1.0)

    @action
    def add(self) -> int:
        self.state["runs"] += 1
        return int(self.state["runs"])


async def test_idempotency_relaxed_mode_writes_outcome_with_the_state(tmp_path: Path) -> None:
    """Relaxed mode does not hold replies for keyed calls either: the outcome is written
    with the next state save, so both survive a crash or neither does."""
    clock = MockClock()
    registry = Registry(Relaxed)
    async with registry.test_client(f"sqlite:///{tmp_path / 'd'}", clock=clock) as client:
        relaxed = client.get_or_create(Relaxed, "relaxed")
        await relaxed.resolve()
        node = client._transport.node  # type: ignore[attr-defined]
        commits = node.committer.commits
        assert await relaxed.action("add", idempotency_key="r") == 1
        assert await relaxed.action("add", idempotency_key="r") == 1
        assert node.committer.commits == commits  # nothing written yet
        actor_id = await relaxed.resolve()
        assert await _stored_keys(client, actor_id) == set()
        await clock.advance(1.0)
        await node.committer.flush()
        assert await _stored_keys(client, actor_id) == {b"idem/r"}
        assert node.committer.commits == commits + 1  # one write: state and outcome


async def test_idempotency_interleaved_call_outcome_is_always_written(tmp_path: Path) -> None:
    """An ``interleave=True`` action's changes are not tracked by a turn, so its outcome is
    written whether or not it seems to have changed something."""
    async with ledger_registry.test_client(f"sqlite:///{tmp_path / 'd'}") as client:
        ledger = client.get_or_create(Ledger, "interleaved")
        assert await ledger.action("release", idempotency_key="i") is None
        assert await _stored_keys(client, await ledger.resolve()) == {b"idem/i"}
