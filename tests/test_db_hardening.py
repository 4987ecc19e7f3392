"""A damaged, lost or full actor database, against real ``actorkit serve`` processes and
real SQLite files: each is reported with its own stable code and one log line, and the
runtime never papers over it (no write into a corrupt file, no fresh empty database in
place of a lost one). See docs/sql.md, "When the database is damaged"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx

from apps.db_hardening_app import LIMIT
from server_fixtures import ServerFactory, ServerProcess

APP = "tests/apps/db_hardening_app.py:registry"


def create(server: ServerProcess, name: str, key: str) -> str:
    reply = httpx.put(f"{server.url}/actors", json={"name": name, "key": [key]})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["actor_id"])


def post(server: ServerProcess, actor_id: str, action: str, *args: Any) -> httpx.Response:
    url = f"{server.url}/actors/{actor_id}/actions/{action}"
    return httpx.post(url, json={"args": list(args)}, timeout=30)


def output(server: ServerProcess, actor_id: str, action: str, *args: Any) -> Any:
    reply = post(server, actor_id, action, *args)
    assert reply.status_code == 200, reply.text
    return reply.json()["output"]


def error(reply: httpx.Response, code: str) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    assert body["code"] == code, reply.text
    assert body["group"] == "actor" and body["message"]
    return body


def db_file(data: Path, actor_id: str) -> Path:
    return data / "actors" / f"{actor_id}.db"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_log(server: ServerProcess, since: int) -> str:
    return server.log_path.read_bytes()[since:].decode(errors="replace")


# -- a corrupt database (item 8) -----------------------------------------------------------


def _corrupt_server(server_factory: ServerFactory, tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    server = server_factory(APP, storage=f"sqlite:///{data}")
    actor_id = create(server, "notes", "c")
    assert output(server, actor_id, "add", "x" * 1000, 40) == 40
    server.stop()  # the actor sleeps; its WAL is checkpointed into the file

    path = db_file(data, actor_id)
    raw = bytearray(path.read_bytes())
    if damage == "page":  # garbage over the last b-tree page (rows of the note table)
        raw[-4096:] = bytes((i * 37 + 11) % 256 for i in range(4096))
    else:  # the header: no longer a SQLite database at all
        raw[:16] = b"definitely-not!!"
    path.write_bytes(bytes(raw))
    before = digest(path)

    since = server.log_path.stat().st_size
    server.start()
    for action, args in [("count", ()), ("add", ("y", 1)), ("count", ()), ("add", ("z", 1))]:
        reply = post(server, actor_id, action, *args)
        assert reply.status_code == 500, reply.text
        error(reply, "database_corrupt")
    # Writes were refused: the file is exactly as the damage left it, state unchanged too.
    assert digest(path) == before
    log = new_log(server, since)
    assert log.count("database_corrupt") == 1, log
    assert "Traceback" not in log, log


def test_db_corrupt_page_is_reported_once_and_never_written(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    _corrupt_server(server_factory, tmp_path, "page")


def test_db_not_a_database_is_reported_as_corrupt(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    _corrupt_server(server_factory, tmp_path, "header")


# -- a lost database (item 10) --------------------------------------------------------------


def test_db_deleted_while_stopped_is_reported_not_recreated(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(APP, storage=f"sqlite:///{data}")
    notes = create(server, "notes", "lost")
    scratch = create(server, "scratch", "lost")  # database created lazily, by an action
    output(server, notes, "add", "milk", 3)
    assert output(server, scratch, "put", "v") == 1
    server.stop()
    for actor_id in (notes, scratch):
        for suffix in ("", "-wal"):
            Path(f"{db_file(data, actor_id)}{suffix}").unlink(missing_ok=True)

    since = server.log_path.stat().st_size
    server.start()
    for actor_id, action in [(notes, "count"), (notes, "added"), (scratch, "put"), (scratch, "n")]:
        for _ in range(2):
            reply = post(server, actor_id, action, *(["w"] if action == "put" else []))
            assert reply.status_code == 500, reply.text
            assert error(reply, "database_missing")["metadata"] == {"actor_id": actor_id}
    for actor_id in (notes, scratch):
        assert not db_file(data, actor_id).exists()  # not silently recreated empty
    log = new_log(server, since)
    assert log.count("database_missing") == 2, log  # one line per actor
    assert "Traceback" not in log, log


def test_db_actor_without_a_database_still_wakes(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(APP, storage=f"sqlite:///{data}")
    scratch = create(server, "scratch", "never")
    server.restart()
    assert output(server, scratch, "n") == 0  # never used self.db: nothing to miss
    assert not db_file(data, scratch).exists()
    assert output(server, scratch, "put", "first") == 1


# -- a full disk, and the size limit with the WAL (item 9) -------------------------------


def test_db_disk_full_has_its_own_code_and_the_actor_recovers(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flag = tmp_path / "disk-is-full"
    data = tmp_path / "data"
    server = server_factory(
        APP, storage=f"sqlite:///{data}", env={"ACTORKIT_TEST_DISK_FULL": str(flag)}
    )
    actor_id = create(server, "notes", "full")
    assert output(server, actor_id, "add", "before", 1) == 1
    flag.touch()
    reply = post(server, actor_id, "add", "during", 1)
    assert reply.status_code == 507, reply.text
    assert "size limit" not in error(reply, "storage_full")["message"]
    flag.unlink()
    # Nothing of the failed call is kept; the actor works again once there is space.
    assert output(server, actor_id, "count") == 1
    assert output(server, actor_id, "added") == 1
    assert output(server, actor_id, "add", "after", 1) == 2
    server.restart()
    assert output(server, actor_id, "count") == 2


def test_db_size_limit_counts_the_wal(server_factory: ServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = server_factory(APP, storage=f"sqlite:///{data}")
    actor_id = create(server, "notes", "wal")
    path = db_file(data, actor_id)

    def on_disk() -> int:
        return sum(os.stat(p).st_size for p in (path, Path(f"{path}-wal")) if os.path.exists(p))

    # 600 KiB of rows (within the 1 MiB limit), then the same rows rewritten three times:
    # each rewrite puts every page into the WAL again. The file and its WAL together stay
    # within the limit after every call.
    assert output(server, actor_id, "add", "a" * 1000, 600) == 600
    assert on_disk() <= LIMIT
    for body in ("b", "c", "d"):
        assert output(server, actor_id, "rewrite", body * 1000) == 600
        assert on_disk() <= LIMIT, on_disk()
    # The limit itself still holds: growing past it is refused with its own code.
    reply = post(server, actor_id, "add", "e" * 1000, 600)
    error(reply, "database_too_large")
    assert output(server, actor_id, "count") == 600
