"""Subscriptions: one key written per change, and kept across sleep, restart and resume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from actorkit import Actor, ActorOptions, AsyncClient, Registry, action
from actorkit._runtime.connections import CONN_PREFIX, ConnRecord
from actorkit.local import LocalLink
from actorkit.protocol.messages import (
    ActionRequest,
    ActionResponse,
    Init,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from actorkit.storage.base import WriteBatch
from actorkit.testing import MockClock
from runtime_helpers import awake, node_of, wait_for


class Feed(Actor):
    options = ActorOptions(sleep_timeout=30.0, reconnect_grace=3600.0)

    @action
    def post(self, event: str, text: str) -> None:
        self.broadcast(event, text)


registry = Registry(Feed)


async def open_link(
    client: AsyncClient, resume: Welcome | None = None
) -> tuple[LocalLink, Welcome]:
    """A raw in-process socket to ``feed["f"]``, opened (or resumed) without subscriptions."""
    actor_id = await client.get_or_create(Feed, "f").resolve()
    link = await client._transport.open_link(actor_id)  # type: ignore[attr-defined]
    assert isinstance(link, LocalLink)
    hello = Init(params={}) if resume is None else Init({}, resume.conn_id, resume.token)
    await link.send(link.codec.encode(hello))
    welcome = link.codec.decode_server(await link.recv())
    assert isinstance(welcome, Welcome)
    return link, welcome


async def settle(link: LocalLink) -> None:
    """Every frame sent before has been handled once an action sent after it is answered."""
    await link.send(link.codec.encode(ActionRequest(99, "post", ["none", "x"])))
    while not isinstance(reply := link.codec.decode_server(await link.recv()), ActionResponse):
        pass
    assert reply.id == 99


def count_written(client: AsyncClient) -> list[int]:
    """Bytes of every key and value the node writes from now on (``[total]``)."""
    driver = node_of(client).driver
    written = [0]
    commit = driver.commit

    async def counting(batches: Sequence[WriteBatch]) -> list[BaseException | None]:
        for batch in batches:
            written[0] += sum(len(k) + len(v) for k, v in batch.puts.items())
        return await commit(batches)

    driver.commit = counting  # type: ignore[method-assign]
    return written


def events(n: int) -> list[str]:
    return [f"{i:04d}".ljust(200, "x") for i in range(n)]


async def test_each_subscription_change_writes_one_key(sqlite_url: str) -> None:
    names = events(1000)
    async with registry.test_client(sqlite_url) as client:
        link, welcome = await open_link(client)
        written = count_written(client)
        for name in names:
            await link.send(link.codec.encode(Subscribe(name)))
        await settle(link)
        # One key per change (the old whole-record rewrite wrote ~100 MB here).
        assert written[0] < 2 * len(names) * 300, written[0]
        for name in names[:500]:
            await link.send(link.codec.encode(Unsubscribe(name)))
        await settle(link)
    # A restarted server resumes the connection with exactly the subscriptions left.
    async with registry.test_client(sqlite_url) as client:
        link, again = await open_link(client, resume=welcome)
        assert again.resumed and again.conn_id == welcome.conn_id
        assert again.subscriptions == names[500:]
        await link.send(link.codec.encode(ActionRequest(1, "post", [names[600], "hi"])))
        heard = link.codec.decode_server(await link.recv())
        assert msgspec.structs.asdict(heard) == {"name": names[600], "args": ["hi"]}


async def test_subscriptions_changed_on_the_socket_survive_hibernation() -> None:
    clock = MockClock()
    async with registry.test_client(clock=clock) as client:
        feed = client.get_or_create(Feed, "f")
        actor_id = await feed.resolve()
        async with feed.connect() as conn:
            heard: list[tuple[str, str]] = []
            off = conn.on("a", lambda text: heard.append(("a", text)))
            conn.on("b", lambda text: heard.append(("b", text)))
            off()
            await conn.post("none", "settle")
            await clock.advance(31)
            await wait_for(lambda: not awake(client, actor_id))
            await feed.post("a", "1")  # wakes the actor; the socket is reattached
            await feed.post("b", "2")
            await wait_for(lambda: heard == [("b", "2")])


async def test_subscriptions_in_an_older_record_are_kept(sqlite_url: str) -> None:
    async with registry.test_client(sqlite_url) as client:
        link, welcome = await open_link(client)
        await link.send(link.codec.encode(Subscribe("kept")))
        await settle(link)
        actor_id = await client.get_or_create(Feed, "f").resolve()
    # Rewrite the record as an older version stored it: subscriptions inside the record.
    async with registry.test_client(sqlite_url) as client:
        driver = node_of(client).driver
        data = await driver.load(actor_id)
        key = CONN_PREFIX + welcome.conn_id.encode()
        rec = msgspec.msgpack.decode(data[key], type=ConnRecord)
        rec.subscriptions = ["news"]
        batch = WriteBatch(actor_id, 0, puts={key: msgspec.msgpack.encode(rec)})
        await legacy_write(client, actor_id, batch)
    async with registry.test_client(sqlite_url) as client:
        link, again = await open_link(client, resume=welcome)
        assert again.resumed and again.subscriptions == ["kept", "news"]
        await link.send(link.codec.encode(Unsubscribe("news")))
        await settle(link)
    async with registry.test_client(sqlite_url) as client:
        link, again = await open_link(client, resume=welcome)
        assert again.resumed and again.subscriptions == ["kept"]


async def legacy_write(client: AsyncClient, actor_id: str, batch: WriteBatch) -> Any:
    """Commit ``batch`` as the actor's owner (activate, write, release)."""
    driver = node_of(client).driver
    taken = await driver.activate(actor_id, "test")
    batch.epoch = taken.epoch  # type: ignore[union-attr]
    assert await driver.commit([batch]) == [None]
    await driver.release(actor_id, "test", batch.epoch)
