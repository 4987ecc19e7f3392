"""The actorkit clients (AsyncClient, blocking Client) against a real server process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import actorkit
from actorkit import ActorError, AsyncClient, Client
from actorkit.client.http import HttpTransport
from apps.counter_app import Counter
from server_fixtures import ROOT, ServerFactory, ServerProcess, free_port


async def test_async_client_full_api(actor_server: ServerProcess) -> None:
    async with AsyncClient(actor_server.url) as client:
        counter = client.get_or_create(Counter, ["api"])
        assert await counter.increment(5) == 5
        assert await counter.action("increment", 2) == 7
        actor_id = await counter.resolve()
        assert await client.get(Counter, "api").get() == 7
        assert await client.get_for_id("counter", actor_id).get() == 7
        assert await client.get("counter", ["api"]).resolve() == actor_id

        created = await client.create(Counter, ["api-new"])
        assert await created.get() == 0
        with pytest.raises(ActorError) as info:
            await client.create(Counter, ["api-new"])
        assert info.value.code == "actor_already_exists"

        with pytest.raises(ActorError) as info:
            await client.get(Counter, ["never"]).get()
        assert (info.value.group, info.value.code) == ("actor", "actor_not_found")

        with pytest.raises(ActorError) as info:
            await counter.fail("my_code")
        assert (info.value.group, info.value.code, info.value.metadata) == (
            "user",
            "my_code",
            {"count": 1007},
        )
        assert await counter.get() == 7  # rolled back

        await counter.destroy()
        assert await counter.get() == 0  # the get-or-create handle re-creates, fresh


async def test_async_client_lists_with_paging(server_factory: ServerFactory) -> None:
    server = server_factory(storage="memory://")
    async with AsyncClient(server.url) as client:
        ids = {await client.get_or_create("counter", [f"k{i}"]).resolve() for i in range(7)}
        await client.get_or_create("room", ["r"]).resolve()
        seen: list[str] = []
        after = None
        while True:
            page = await client.list_actors("counter", after=after, limit=3)
            seen += [a["actor_id"] for a in page]
            if len(page) < 3:
                break
            after = page[-1]["actor_id"]
        assert set(seen) == ids and len(seen) == 7
        assert len(await client.list_actors()) == 8


async def test_async_client_msgpack_encoding(actor_server: ServerProcess) -> None:
    transport = HttpTransport(actor_server.url, encoding="msgpack")
    async with AsyncClient(transport=transport) as client:
        h = client.get_or_create("counter", ["msgpack"])
        value = {"s": "é", "n": [1, 2.5, None, True], "big": 2**62}
        assert await h.echo(value) == value
        with pytest.raises(ActorError) as info:
            await h.nope()
        assert info.value.code == "action_not_found"


async def test_params_reach_on_before_connect(actor_server: ServerProcess) -> None:
    async with AsyncClient(actor_server.url) as client:
        room = client.get_or_create("room", ["params"], input={"topic": "cats"})
        with pytest.raises(ActorError) as info:
            await room.send("hi")
        assert info.value.code == "forbidden"
        ok = client.get_or_create("room", ["params"], params={"token": "secret"})
        assert await ok.send("hi") == 1
        assert await ok.topic() == "cats"


async def test_fetch_reaches_on_request(actor_server: ServerProcess) -> None:
    async with AsyncClient(actor_server.url) as client:
        counter = client.get_or_create(Counter, ["fetch"])
        await counter.increment(1)
        reply = await counter.fetch("/count")
        assert reply.status_code == 200 and reply.json() == {"count": 1, "method": "GET"}
        reply = await counter.fetch("bump", method="POST", content=b"abcd")
        assert reply.status_code == 201 and reply.json() == {"count": 5}
        assert await counter.get() == 5
        reply = await counter.fetch("text", params={"who": "bob"})
        assert reply.text == "hello bob"
        assert (await counter.fetch("bytes")).content == b"\x00\x01\x02"
        assert (await counter.fetch("other")).status_code == 404
        sse = await counter.fetch("sse")
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert sse.text == "data: 5\n\ndata: 6\n\ndata: 7\n\n"


async def test_network_failure_is_connection_lost() -> None:
    async with AsyncClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(ActorError) as info:
            await client.get_or_create("counter", "x").increment(1)
        assert (info.value.group, info.value.code) == ("connection", "connection_lost")


async def test_client_survives_server_restart(server_factory: ServerFactory) -> None:
    server = server_factory()
    async with AsyncClient(server.url) as client:
        counter = client.get_or_create("counter", ["restart"])
        assert await counter.increment(1) == 1
        server.restart()  # same port; pooled keep-alive connections are now dead
        assert await counter.increment(1) == 2


def test_blocking_client_in_process(actor_server: ServerProcess) -> None:
    with Client(actor_server.url) as client:
        counter = client.get_or_create(Counter, ["sync"])
        assert counter.increment(4) == 4
        assert client.get_for_id(Counter, counter.resolve()).get() == 4
        created = client.create("counter", ["sync-created"])
        assert created.get() == 0
        with pytest.raises(ActorError) as info:
            client.create("counter", ["sync-created"])
        assert info.value.code == "actor_already_exists"
        assert counter.fetch("count").json()["count"] == 4
        counter.destroy()
        with pytest.raises(ActorError) as info:
            client.get("counter", ["sync"]).get()
        assert info.value.code == "actor_not_found"
        assert any(a["key"] == ["sync-created"] for a in client.list_actors("counter"))


def test_blocking_client_from_a_plain_script(actor_server: ServerProcess) -> None:
    script = Path(__file__).parent / "scripts" / "blocking_client.py"
    out = subprocess.run(
        [sys.executable, str(script), actor_server.url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    ).stdout.split("\n")
    assert out[:5] == ["2", "5", "True", "actor action_not_found", "True"]


def test_client_is_exported() -> None:
    assert actorkit.Client is Client


async def _closing_server() -> tuple[asyncio.Server, list[bytes]]:
    """A real socket server that reads each request and hangs up without answering."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), requests


def _header(request: bytes, name: bytes) -> bytes | None:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def test_retries_only_idempotent_requests_after_sending() -> None:
    server, requests = await _closing_server()
    port = server.sockets[0].getsockname()[1]
    async with server, AsyncClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ActorError) as info:
            await client.get_for_id("counter", "abc").increment(1)
        assert info.value.code == "connection_lost"
        # An action call carries an Idempotency-Key, so it is retried — with the same key.
        assert [r.split(b" ")[0] for r in requests] == [b"POST"] * 3
        keys = {_header(r, b"idempotency-key") for r in requests}
        assert len(keys) == 1 and None not in keys
        requests.clear()
        with pytest.raises(ActorError) as info:
            await client.get_or_create("counter", "k").resolve()
        assert info.value.code == "connection_lost"
        assert [r.split(b" ")[0] for r in requests] == [b"PUT"] * 3  # idempotent: retried
        requests.clear()
        with pytest.raises(ActorError):
            await client.create("counter", "k2")
        assert [r.split(b" ")[0] for r in requests] == [b"POST"]  # create is not idempotent


async def test_a_retried_call_that_may_have_run_never_reports_it_did_not() -> None:
    """The first attempt reaches the server (which hangs up: it may have run the call);
    the retries then cannot connect. The error must keep the doubt, not say "not sent"
    (found by the cluster chaos run: such a call was taken as certainly not run)."""
    requests: list[bytes] = []
    server: asyncio.Server

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        server.close()  # from now on connections are refused
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with AsyncClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ActorError) as info:
            await client.get_for_id("counter", "abc").increment(1)
        assert len(requests) == 1  # one attempt arrived; the retries were refused
        assert info.value.code == "connection_lost"
        assert not isinstance(info.value.__cause__, httpx.ConnectError)
        # A call no attempt of which arrived does say so.
        with pytest.raises(ActorError) as info:
            await client.get_for_id("counter", "abc").increment(1)
        assert isinstance(info.value.__cause__, httpx.ConnectError)
