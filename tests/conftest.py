"""Shared fixtures. Every storage driver runs the same tests through ``storage_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DRIVERS = ["memory", "sqlite"]


@pytest.fixture(params=DRIVERS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A storage URL for each driver; tests using it run once per driver."""
    if request.param == "memory":
        yield "memory://"
    else:
        yield f"sqlite:///{tmp_path / 'data'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data'}"


# Real server processes (see server_fixtures.py), shared with every test file.
# Module-scoped inspector servers (dev mode, and token-protected): see inspector_helpers.py.
from inspector_helpers import dev, guarded  # noqa: E402, F401
from server_fixtures import actor_server, server_factory  # noqa: E402, F401
