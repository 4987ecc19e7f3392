"""Idempotent calls across pauses, crashes and nodes, with real ``actorkit serve`` processes.

The scenario of issue 14 (item 15): calls the client gave up on while the server was
stopped (``SIGSTOP``) used to run later anyway, and a retry ran them a second time.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from actorkit import ActorError, AsyncClient
from cluster_fixtures import ClusterFactory
from server_fixtures import ServerFactory, ServerProcess
from test_idempotency import IDEM_APP, counts, new_actor, post
from ws_helpers import eventually


def post_until_served(
    url: str, actor_id: str, action: str, args: list[Any], key: str | None
) -> httpx.Response:
    """``post``, repeated while the reply is a retryable 503 (e.g. until the lease of a
    killed owner has run out), as a client retrying with the same key would."""
    deadline = time.monotonic() + 60
    while True:
        reply = post(url, actor_id, action, args, key)
        retryable = reply.status_code == 503 and reply.json()["metadata"].get("retryable")
        if not retryable or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def _signal(server: ServerProcess, sig: signal.Signals) -> None:
    assert server.proc is not None
    server.proc.send_signal(sig)


async def test_sigstop_calls_given_up_on_run_once_and_retries_get_their_result(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(IDEM_APP)
    actor_id = new_actor(server.url, "sigstop")
    keys = [f"call-{i}" for i in range(8)]
    url = f"{server.url}/actors/{actor_id}/actions/add"
    _signal(server, signal.SIGSTOP)
    try:
        # The kernel queues the requests; the stopped server does not answer: give up.
        async with httpx.AsyncClient(timeout=1.0) as http:
            attempts = [
                http.post(url, json={"args": [1]}, headers={"Idempotency-Key": key}) for key in keys
            ]
            outcomes = await asyncio.gather(*attempts, return_exceptions=True)
        assert all(isinstance(o, httpx.TimeoutException) for o in outcomes), outcomes
    finally:
        _signal(server, signal.SIGCONT)
    # Retry each call with its key: each ran exactly once, the retry gets that run's result.
    first = [post(server.url, actor_id, "add", [1], key) for key in keys]
    assert [r.status_code for r in first] == [200] * 8
    runs = sorted(r.json()["output"]["run"] for r in first)
    assert runs == list(range(1, 9))
    again = [post(server.url, actor_id, "add", [1], key) for key in keys]
    assert [r.json() for r in again] == [r.json() for r in first]
    assert counts(server.url, actor_id) == {"runs": 8, "total": 8, "executions": 8, "waiting": 0}


async def test_sigstop_client_retries_with_its_key(server_factory: ServerFactory) -> None:
    """The Python client gives up (after its own retries, all with one key); a retry with
    the key the caller chose returns the outcome of the one run."""
    server = server_factory(IDEM_APP)
    async with AsyncClient(server.url, timeout=1.0) as client:
        ledger = client.get_or_create("ledger", "client-sigstop")
        await ledger.resolve()
        _signal(server, signal.SIGSTOP)
        try:
            with pytest.raises(ActorError) as info:
                await ledger.action("add", 3, idempotency_key="pay-1")
            assert info.value.code == "connection_lost"
        finally:
            _signal(server, signal.SIGCONT)
        result = await ledger.action("add", 3, idempotency_key="pay-1")
        assert result["run"] == 1
        assert await ledger.action("add", 3, idempotency_key="pay-1") == result
        assert await ledger.counts() == {"runs": 1, "total": 3, "executions": 1, "waiting": 0}


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> str | None:
    """None (the factory's SQLite directory) or a PostgreSQL database; requested before
    ``server_factory`` so the servers stop before the database is dropped."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


def test_kill9_acknowledged_outcome_is_returned_after_restart(
    storage: str | None, server_factory: ServerFactory
) -> None:
    server = server_factory(IDEM_APP, storage=storage, args=["--lease-seconds", "2"])
    actor_id = new_actor(server.url, "kill9")
    first = post(server.url, actor_id, "add", [7], "acked")
    assert first.status_code == 200, first.text
    server.kill()  # kill -9 right after the acknowledgement
    server.start()
    again = post_until_served(server.url, actor_id, "add", [7], "acked")
    assert again.json() == first.json()
    # executions counts runs in this (new) process: none — the outcome came from storage.
    assert counts(server.url, actor_id) == {"runs": 1, "total": 7, "executions": 0, "waiting": 0}


def test_kill9_call_never_committed_runs_on_repeat(server_factory: ServerFactory) -> None:
    server = server_factory(IDEM_APP)
    actor_id = new_actor(server.url, "uncommitted")

    async def start_held_call() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            held = asyncio.ensure_future(
                http.post(
                    f"{server.url}/actors/{actor_id}/actions/held_add",
                    json={"args": [2]},
                    headers={"Idempotency-Key": "held"},
                )
            )
            await eventually(
                lambda: asyncio.to_thread(counts, server.url, actor_id),
                lambda c: c["waiting"] == 1,
            )
            server.kill()  # the call is running: nothing of it was committed
            with pytest.raises(httpx.TransportError):
                await held

    asyncio.run(start_held_call())
    server.start()
    assert post(server.url, actor_id, "release", [], None).status_code == 200
    again = post(server.url, actor_id, "held_add", [2], "held")
    assert again.status_code == 200, again.text
    assert again.json()["output"]["run"] == 1
    assert counts(server.url, actor_id) == {"runs": 1, "total": 2, "executions": 1, "waiting": 1}


def test_cluster_forwarded_call_and_failover_keep_the_outcome(cluster: ClusterFactory) -> None:
    a, b = cluster(2, app=IDEM_APP)
    actor_id = new_actor(a.url, "cluster")
    first = post(a.url, actor_id, "add", [9], "c1")  # activates the actor on a
    assert first.status_code == 200, first.text
    via_b = post(b.url, actor_id, "add", [9], "c1")  # forwarded to a, with its key
    assert via_b.json() == first.json()
    assert counts(b.url, actor_id)["executions"] == 1
    a.kill()
    # b takes the actor over once a's lease ran out; the outcome is in PostgreSQL.
    after = post(b.url, actor_id, "add", [9], "c1")
    assert after.status_code == 200, after.text
    assert after.json() == first.json()
    assert after.json()["output"]["pid"] == first.json()["output"]["pid"] != b.pid
    assert counts(b.url, actor_id) == {"runs": 1, "total": 9, "executions": 0, "waiting": 0}


def test_kill9_between_the_database_commit_and_the_batch_keeps_the_outcome(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """A turn that wrote ``self.db`` commits the database first, then its batch (with the
    outcome) to the main store. A crash in between used to keep the row but lose the outcome,
    so the retry inserted the row a second time."""
    flag = tmp_path / "crash-before-the-batch"
    server = server_factory(
        "tests/apps/idempotency_db_app.py:registry", env={"ACTORKIT_TEST_CRASH_FLAG": str(flag)}
    )
    reply = httpx.put(server.url + "/actors", json={"name": "journal", "key": ["j"]}, timeout=30)
    actor_id = str(reply.json()["actor_id"])
    assert post(server.url, actor_id, "write", ["first"], "one").json()["output"] == 1

    flag.touch()
    with pytest.raises(httpx.TransportError):  # the server dies before it can answer
        post(server.url, actor_id, "write", ["second"], "two")
    assert server.proc is not None and server.proc.wait(timeout=30) == -signal.SIGKILL
    flag.unlink()

    server.start()
    # The retry finds the outcome the database kept: the row is not inserted again.
    again = post(server.url, actor_id, "write", ["second"], "two")
    assert again.status_code == 200, again.text
    assert again.json()["output"] == 2
    assert post(server.url, actor_id, "rows", [], None).json()["output"] == 2
    # It survives another restart, and a new call after it runs normally.
    server.kill()
    server.start()
    assert post(server.url, actor_id, "write", ["second"], "two").json()["output"] == 2
    assert post(server.url, actor_id, "write", ["third"], "three").json()["output"] == 3
    assert post(server.url, actor_id, "rows", [], None).json()["output"] == 3
