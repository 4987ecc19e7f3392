"""Action names that the clients' own members would shadow are refused at registration.

An action named ``destroy`` was accepted, and ``handle.destroy()`` then deleted the actor
instead of calling it (issue 15 item 2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import actorkit
from actorkit import Actor, Registry, action
from actorkit.client.base import ActorHandle, AsyncClient
from actorkit.client.connection import ActorConnection
from actorkit.client.portal import Portal
from actorkit.client.sync import SyncActorHandle
from actorkit.client.sync_connection import SyncActorConnection
from actorkit.protocol.names import RESERVED_ACTION_NAMES

STATIC = Path(actorkit.__file__).parent / "static"


def _public(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


async def _never(actor_id: str) -> Any:
    raise AssertionError("not opened")


def test_reserved_names_cover_every_python_handle_and_connection_member() -> None:
    client = AsyncClient("http://127.0.0.1:1")
    handle: ActorHandle[Any] = ActorHandle(client, "counter", key=("k",))
    conn = ActorConnection(handle, None, _never)
    portal = Portal()
    try:
        members = (
            _public(handle)
            | _public(conn)
            | _public(SyncActorHandle(portal, handle))
            | _public(SyncActorConnection(portal, conn))
        )
    finally:
        portal.close()
    assert {"destroy", "fetch", "connect", "on", "events", "close"} <= members
    assert members - set(RESERVED_ACTION_NAMES) == set()


def _js_members(source: str, cls: str) -> set[str]:
    body = source.split(f"export class {cls} ", 1)[1].split("\nexport ", 1)[0]
    methods = set(re.findall(r"^  (?:async )?([A-Za-z]\w*)\(", body, re.M)) - {"constructor"}
    fields = set(re.findall(r"this\.([A-Za-z]\w*) =", body))
    return methods | fields


def test_reserved_names_cover_the_browser_client_members() -> None:
    source = (STATIC / "actorkit.js").read_text()
    members = _js_members(source, "ActorHandle") | _js_members(source, "ActorConnection")
    assert {"resolve", "connect", "dispose", "onStatusChange", "actorId"} <= members
    assert members - set(RESERVED_ACTION_NAMES) == set()
    # The proxy also treats `then` and Object's own members as present.
    assert {"then", "toString", "constructor"} <= set(RESERVED_ACTION_NAMES)


def _actor_with(name: str) -> type[Actor]:
    def method(self: Actor) -> int:
        return 1

    method.__name__ = name
    return type("Clash", (Actor,), {name: action(method)})


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("destroy", "ActorHandle.destroy"),
        ("fetch", "ActorHandle.fetch"),
        ("connect", "ActorHandle.connect"),
        ("resolve", "ActorHandle.resolve"),
        ("on", "ActorConnection.on"),
        ("events", "ActorConnection.events"),
        ("dispose", "ActorConnection.dispose"),
        ("onOpen", "ActorConnection.onOpen"),
        ("then", "ActorHandle.then"),
        ("log", "Actor.log"),
        ("broadcast", "Actor.broadcast"),
    ],
)
def test_action_named_like_a_client_member_is_refused(name: str, named: str) -> None:
    with pytest.raises(TypeError) as info:
        Registry(_actor_with(name))
    message = str(info.value)
    assert f"Clash.{name} cannot be an action" in message
    assert named in message and "rename it" in message


async def test_other_names_register_and_are_called() -> None:
    cls = _actor_with("destroy_all")
    async with Registry(cls).test_client() as client:
        assert await client.get_or_create(cls, "k").destroy_all() == 1


def test_a_parameter_named_idempotency_key_is_refused() -> None:
    """The clients take ``idempotency_key=`` for the call's key, so ``handle.pay(
    idempotency_key=...)`` could never reach such a parameter."""

    class Pay(Actor):
        @action
        def pay(self, amount: int, idempotency_key: str) -> None: ...

    with pytest.raises(TypeError, match="'idempotency_key'"):
        Registry(Pay)


def test_keyword_only_parameters_are_refused_with_the_fix() -> None:
    class Flags(Actor):
        @action
        def toggle(self, name: str, *, on: bool = True) -> None: ...

    with pytest.raises(TypeError, match="drop the '\\*'"):
        Registry(Flags)
