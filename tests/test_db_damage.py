"""Lost and corrupt actor databases on every driver that can lose or damage one (see also
test_db_hardening.py, which does the same to real files under a real server)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest

from actorkit import Actor, ActorError, Registry, action
from actorkit._runtime import db_engine
from actorkit.storage.base import Activation, WriteBatch
from runtime_helpers import node_of


class Ledger(Actor):
    state = {"n": 0}
    migrations = ["CREATE TABLE entry (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"]

    @action
    async def add(self, body: str, copies: int = 1) -> int:
        await self.db.executemany("INSERT INTO entry (body) VALUES (?)", [(body,)] * copies)
        self.state["n"] += copies
        return int(self.state["n"])

    @action
    async def count(self) -> int:
        row = await self.db.fetch_one("SELECT count(*) AS n FROM entry")
        return int(row["n"]) if row else 0

    @action
    def n(self) -> int:
        return int(self.state["n"])


class Lazy(Actor):
    """No migrations: the first ``self.db`` call creates the database."""

    state = {"n": 0}

    @action
    async def put(self) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        await self.db.execute("INSERT INTO t (v) VALUES (1)")
        self.state["n"] += 1
        return int(self.state["n"])


registry = Registry(Ledger, Lazy)


async def _code(coro: object) -> str:
    with pytest.raises(ActorError) as info:
        await coro  # type: ignore[misc]
    return info.value.code


async def test_db_lost_while_asleep_is_reported_on_every_driver(
    db_storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with registry.test_client(db_storage_url) as client:
        node = node_of(client)
        ledger, lazy = client.get_or_create(Ledger, "l"), client.get_or_create(Lazy, "l")
        await ledger.add("a", 3)
        assert await lazy.put() == 1
        for handle in (ledger, lazy):
            actor_id = await handle.resolve()
            await node.sleep_actor(actor_id)
            node.driver.delete_actor_db(actor_id)  # lost behind the runtime's back
        for _ in range(2):
            assert await _code(ledger.n()) == "database_missing"
            assert await _code(lazy.put()) == "database_missing"
        assert not node.instances
        missing = [r for r in caplog.records if "database_missing" in r.getMessage()]
        assert len(missing) == 2 and all(r.exc_info is None for r in missing)


async def test_db_of_an_older_release_gets_its_marker_on_wake(db_storage_url: str) -> None:
    from actorkit._runtime.db import DB_KEY

    async with registry.test_client(db_storage_url) as client:
        node = node_of(client)
        ledger = client.get_or_create(Ledger, "old")
        await ledger.add("a")
        actor_id = await ledger.resolve()
        assert DB_KEY in await node.driver.load(actor_id)
        await node.sleep_actor(actor_id)
        # As written before the marker existed: a database, no key in the main store.
        record = await node.driver.get_actor(actor_id)
        assert record is not None
        taken = await node.driver.activate(actor_id, node.id)
        assert isinstance(taken, Activation)
        batch = WriteBatch(actor_id, taken.epoch)
        batch.deletes.add(DB_KEY)
        await node.driver.commit([batch])
        await node.driver.release(actor_id, node.id, taken.epoch)
        assert DB_KEY not in await node.driver.load(actor_id)
        assert await ledger.count() == 1  # wakes: the database is there
        await node.sleep_actor(actor_id)
        assert DB_KEY in await node.driver.load(actor_id)


def _damage_file(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-4096:] = bytes((i * 37 + 11) % 256 for i in range(4096))
    path.write_bytes(bytes(raw))


def _damage_postgres(url: str, actor_id: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE actorkit.db_pages SET data = decode(repeat('ab', length(data)), 'hex') "
            "WHERE actor_id = %s AND page_no = (SELECT max(page_no) FROM actorkit.db_pages "
            "WHERE actor_id = %s)",
            (actor_id, actor_id),
        )


@pytest.mark.parametrize("check_on_open", [True, False], ids=["checked", "met-at-use"])
@pytest.mark.parametrize("driver", ["sqlite", "postgres"])
async def test_db_corruption_refuses_all_further_work(
    driver: str,
    check_on_open: bool,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not check_on_open:
        # Past the quick_check on open (as for a database larger than
        # QUICK_CHECK_MAX_BYTES): SQLite itself meets the damage.
        monkeypatch.setattr(db_engine, "QUICK_CHECK_MAX_BYTES", 0, raising=False)
    url = (
        request.getfixturevalue("postgres_url")
        if driver == "postgres"
        else f"sqlite:///{tmp_path / 'data'}"
    )
    async with registry.test_client(url) as client:
        node = node_of(client)
        ledger = client.get_or_create(Ledger, "c")
        assert await ledger.add("x" * 1000, 40) == 40
        actor_id = await ledger.resolve()
        await node.sleep_actor(actor_id)
        path = tmp_path / "data" / "actors" / f"{actor_id}.db"
        if driver == "postgres":
            _damage_postgres(url, actor_id)
        else:
            _damage_file(path)
        before = hashlib.sha256(path.read_bytes()).digest() if driver == "sqlite" else b""

        assert await _code(ledger.count()) == "database_corrupt"
        assert actor_id not in node.instances  # unloaded: the next call looks again
        assert await _code(ledger.add("y")) == "database_corrupt"
        assert await _code(ledger.count()) == "database_corrupt"
        if check_on_open:  # the actor does not wake at all
            assert await _code(ledger.n()) == "database_corrupt"
        else:  # it wakes (nothing checked the file) and its state is untouched
            assert await ledger.n() == 40
        if driver == "sqlite":
            assert hashlib.sha256(path.read_bytes()).digest() == before
        logged = [r for r in caplog.records if "database_corrupt" in r.getMessage()]
        assert len(logged) == 1 and logged[0].exc_info is None


async def test_db_postgres_disk_full_is_storage_full_and_the_actor_carries_on(
    postgres_url: str,
) -> None:
    # PostgreSQL's own disk_full error (SQLSTATE 53100), raised by a trigger on the page
    # table while the switch row exists: the same error a full disk gives, on the real path.
    async with registry.test_client(postgres_url) as client:
        ledger = client.get_or_create(Ledger, "full")
        assert await ledger.add("before") == 1
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE disk_is_full (on_ boolean);"
                "CREATE FUNCTION fail_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF EXISTS (SELECT 1 FROM disk_is_full) THEN RAISE EXCEPTION "
                "'could not extend file: No space left on device' USING ERRCODE = 'disk_full';"
                "END IF; RETURN NEW; END $$;"
                "CREATE TRIGGER full_pages BEFORE INSERT OR UPDATE ON actorkit.db_pages "
                "FOR EACH ROW EXECUTE FUNCTION fail_full();"
                "INSERT INTO disk_is_full VALUES (true)"
            )
            assert await _code(ledger.add("during")) == "storage_full"
            conn.execute("DELETE FROM disk_is_full")
        assert await ledger.count() == 1  # nothing of the refused call
        assert await ledger.n() == 1
        assert await ledger.add("after") == 2
        assert await ledger.count() == 2


async def test_db_file_changed_between_wakes_is_checked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # This process verified and closed the file; damage after that (same size) is seen.
    async with registry.test_client(f"sqlite:///{tmp_path / 'data'}") as client:
        node = node_of(client)
        ledger = client.get_or_create(Ledger, "again")
        assert await ledger.add("x" * 1000, 40) == 40
        actor_id = await ledger.resolve()
        for _ in range(2):  # a clean sleep and wake: nothing to report
            await node.sleep_actor(actor_id)
            assert await ledger.count() == 40
        await node.sleep_actor(actor_id)
        path = tmp_path / "data" / "actors" / f"{actor_id}.db"
        size = path.stat().st_size
        _damage_file(path)
        assert path.stat().st_size == size
        assert await _code(ledger.n()) == "database_corrupt"  # found on open: no wake
        assert await _code(ledger.n()) == "database_corrupt"
        assert len([r for r in caplog.records if "database_corrupt" in r.getMessage()]) == 1
