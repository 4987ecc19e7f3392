"""The public namespace: ``actorkit.__all__`` is sorted and every name in it exists."""

from __future__ import annotations

import actorkit


def test_all_is_sorted() -> None:
    assert actorkit.__all__ == sorted(actorkit.__all__)


def test_all_names_exist() -> None:
    for name in actorkit.__all__:
        assert hasattr(actorkit, name), name


def test_public_members_are_exported() -> None:
    exported = set(actorkit.__all__)
    members = {
        name
        for name, value in vars(actorkit).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("actorkit")
    }
    assert members <= exported, members - exported


def test_auth_request_is_public() -> None:
    """What an ``authenticate`` hook is given is part of the public API (docs/auth.md)."""
    assert "AuthRequest" in actorkit.__all__
    request = actorkit.AuthRequest(intent="call", actor_name="counter", action="increment")
    assert request.headers == {} and request.params is None and request.client is None
