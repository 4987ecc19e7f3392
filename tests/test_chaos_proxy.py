"""The fault proxy (tests/chaos/proxy.py) against a real echo server over real sockets:
each fault does what it says, per direction, and a seed replays the same faults."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from chaos.proxy import BOTH, DOWN, UP, FaultProxy
from runtime_helpers import wait_for


@dataclass
class Echo:
    """An echo server that remembers what each connection sent and when it ended."""

    server: asyncio.Server
    received: list[bytearray] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    ended: list[asyncio.Event] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    echo: Echo | None = None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert echo is not None
        got, ended = bytearray(), asyncio.Event()
        echo.received.append(got)
        echo.writers.append(writer)
        echo.ended.append(ended)
        echo.connected.set()
        try:
            while data := await reader.read(65536):
                got.extend(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            ended.set()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    echo = Echo(server)
    yield echo
    server.close()
    for writer in echo.writers:
        writer.close()
    for ended in echo.ended:
        await ended.wait()
    for writer in CLIENTS:
        writer.close()
    CLIENTS.clear()


@pytest.fixture
def proxies() -> Iterator[list[FaultProxy]]:
    started: list[FaultProxy] = []
    yield started
    for proxy in started:
        proxy.stop()


def start(proxies: list[FaultProxy], echo: Echo, seed: int = 1, **kw: float) -> FaultProxy:
    proxy = FaultProxy(echo.address, seed=seed, **kw).start()  # type: ignore[arg-type]
    proxies.append(proxy)
    return proxy


CLIENTS: list[asyncio.StreamWriter] = []  # closed at the end of each test


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    CLIENTS.append(writer)
    return reader, writer


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    writer.write(data)
    await writer.drain()
    return await reader.readexactly(len(data))


async def read_to_end(reader: asyncio.StreamReader) -> tuple[bytes, str]:
    """Everything until the connection ends, and how it ended: ``"eof"`` or ``"reset"``."""
    got = bytearray()
    try:
        while data := await reader.read(65536):
            got.extend(data)
    except ConnectionResetError:
        return bytes(got), "reset"
    return bytes(got), "eof"


async def test_proxy_without_faults_forwards_both_ways_and_passes_the_close_on(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo)
    reader, writer = await connect(proxy)
    payload = random.Random(0).randbytes(300_000)  # several chunks each way
    assert await roundtrip(reader, writer, payload) == payload
    writer.write_eof()
    assert await read_to_end(reader) == (b"", "eof")
    await echo.ended[0].wait()
    assert bytes(echo.received[0]) == payload
    assert sum(proxy.counts.values()) == 0


async def test_proxy_delay_holds_chunks_back_for_the_seeded_time_in_order(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo, seed=5)
    proxy.set(DOWN, delay=1.0, max_delay=0.2)
    reader, writer = await connect(proxy)
    # The proxy draws, per chunk of its first connection's DOWN direction: the fault roll,
    # then the delay roll and the delay itself.
    rng = random.Random("5/1/down")
    expected = 0.0
    started = time.monotonic()
    for i in range(5):
        rng.random(), rng.random()
        expected += rng.uniform(0, 0.2)
        message = f"message {i};".encode()
        assert await roundtrip(reader, writer, message) == message
    assert time.monotonic() - started >= expected
    assert proxy.counts == {"delay": 5}
    writer.close()


async def test_proxy_drop_swallows_one_direction_then_resets_the_connection(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo, drop_lifetime=0.3)
    reader, writer = await connect(proxy)
    assert await roundtrip(reader, writer, b"before") == b"before"
    proxy.set(DOWN, drop=1.0)
    writer.write(b"after")
    # The server gets the request, the client never gets the answer; then TCP "gives up".
    assert await read_to_end(reader) == (b"", "reset")
    await echo.ended[0].wait()
    assert bytes(echo.received[0]) == b"beforeafter"
    assert proxy.counts == {"drop": 1}

    proxy.clear()
    proxy.set(UP, drop=1.0)
    reader, writer = await connect(proxy)
    writer.write(b"lost")
    assert await read_to_end(reader) == (b"", "reset")
    await wait_for(lambda: len(echo.ended) == 2)
    await echo.ended[1].wait()
    assert bytes(echo.received[1]) == b""  # the upstream server never saw a byte


async def test_proxy_drop_all_stops_open_connections_but_not_new_ones(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo, drop_lifetime=60)
    old_reader, old_writer = await connect(proxy)
    assert await roundtrip(old_reader, old_writer, b"a") == b"a"
    proxy.drop_all(UP)
    old_writer.write(b"swallowed")
    reader, writer = await connect(proxy)
    assert await roundtrip(reader, writer, b"fresh") == b"fresh"
    proxy.reset_all()
    assert await read_to_end(old_reader) == (b"", "reset")
    assert bytes(echo.received[0]) == b"a"


async def test_proxy_reset_closes_both_sides_with_an_rst(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo)
    proxy.set(UP, reset=1.0)
    reader, writer = await connect(proxy)
    writer.write(b"boom")
    assert await read_to_end(reader) == (b"", "reset")
    await wait_for(lambda: len(echo.ended) == 1)  # the upstream connection reached it
    await echo.ended[0].wait()
    assert bytes(echo.received[0]) == b""
    assert proxy.counts == {"reset": 1}


async def test_proxy_blackhole_accepts_and_never_answers_nor_connects(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo)
    proxy.blackhole = True
    held_reader, held_writer = await connect(proxy)
    held_writer.write(b"anyone there?")
    await held_writer.drain()
    await wait_for(lambda: proxy.counts["blackhole"] == 1)
    proxy.blackhole = False
    reader, writer = await connect(proxy)
    assert await roundtrip(reader, writer, b"hello") == b"hello"
    # Only the second connection ever reached the server; the first got nothing back.
    assert [bytes(r) for r in echo.received] == [b"hello"]
    assert proxy.counts == {"blackhole": 1}
    proxy.reset_all()
    assert await read_to_end(held_reader) == (b"", "reset")


async def lifetimes(proxy: FaultProxy, connections: int, messages: int) -> list[int]:
    """How many round trips each of ``connections`` sequential connections survived."""
    survived = []
    for _ in range(connections):
        reader, writer = await connect(proxy)
        n = 0
        try:
            for _ in range(messages):
                await roundtrip(reader, writer, b"x")
                n += 1
        except (ConnectionResetError, asyncio.IncompleteReadError):
            pass
        survived.append(n)
        writer.close()
    return survived


async def test_proxy_same_seed_same_faults(echo: Echo, proxies: list[FaultProxy]) -> None:
    runs = []
    for seed in (11, 11, 12):
        proxy = start(proxies, echo, seed=seed)
        proxy.set(BOTH, reset=0.1)
        runs.append(await lifetimes(proxy, connections=8, messages=20))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert any(n < 20 for n in runs[0])  # faults did happen


async def test_proxy_refuses_while_the_upstream_refuses(
    echo: Echo, proxies: list[FaultProxy]
) -> None:
    proxy = start(proxies, echo)
    host, port = echo.address
    echo.server.close()
    await echo.server.wait_closed()
    # The first client finds out one hop late (reset, maybe before its connect call even
    # returned); from then on the proxy refuses.
    try:
        reader, writer = await connect(proxy)
        writer.write(b"anyone?")
        assert (await read_to_end(reader))[0] == b""
    except ConnectionResetError:
        pass
    await wait_for(lambda: proxy.counts["refused"] == 1)
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)

    echo.server = await asyncio.start_server(lambda r, w: w.close(), host, port)
    try:
        await wait_for(lambda: not proxy.refusing)
        reader, writer = await connect(proxy)
        assert await read_to_end(reader) == (b"", "eof")  # this upstream closes at once
    finally:
        echo.server.close()
