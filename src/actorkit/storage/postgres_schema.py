"""The PostgreSQL driver's schema: tables, the functions behind its one-round-trip methods,
and ``ensure_schema``, which creates or upgrades it (see ``docs/storage.md``).

Everything lives in the PostgreSQL schema ``actorkit``, so it never collides with an
application's own tables and ``DROP SCHEMA actorkit CASCADE`` removes it all.

Why functions: a method that must lock a row and *then* read what the lock protected
(``activate``, ``commit``, ``delete_actor``, ``create_actor``, ``claim_alarms``) needs a
second snapshot taken after the lock is granted. A single SQL statement has one snapshot,
taken before it waited; PL/pgSQL in READ COMMITTED takes a fresh one per statement. So each
of these is one function call: one round trip, one transaction, and correct under
concurrency.
"""

from __future__ import annotations

from typing import Any

import psycopg

from actorkit.errors import StorageError

__all__ = ["SCHEMA_VERSION", "ensure_schema"]

SCHEMA_VERSION = 2

#: ``pg_advisory_xact_lock`` key serializing schema creation across nodes ("actorkit").
SCHEMA_LOCK = 0x6163746F726B6974

_TABLES = """
CREATE SCHEMA IF NOT EXISTS actorkit;

CREATE TABLE actorkit.meta (k text PRIMARY KEY, v text NOT NULL);

CREATE TABLE actorkit.actors (
    id text PRIMARY KEY,
    name text NOT NULL,
    key text NOT NULL,              -- the key's parts as a JSON array
    key_hash bytea NOT NULL,        -- sha256 of key: a small, fixed-size unique index
    created_at double precision NOT NULL,
    input bytea,
    region text,
    initialized boolean NOT NULL DEFAULT false,
    epoch bigint NOT NULL DEFAULT 0,
    owner text,                     -- the member holding it; held while that member is live
    UNIQUE (name, key_hash)
) WITH (fillfactor = 90);           -- room for HOT updates: activate changes no indexed column
CREATE INDEX actors_name_id ON actorkit.actors (name, id);

CREATE TABLE actorkit.kv (
    actor_id text NOT NULL,
    k bytea NOT NULL,
    v bytea NOT NULL,
    PRIMARY KEY (actor_id, k)
);

CREATE TABLE actorkit.alarms (
    actor_id text PRIMARY KEY,
    at double precision NOT NULL,   -- unix seconds on the nodes' clock, as the runtime gives it
    claimed_by text,
    claimed_until double precision  -- on the claimer's ``now`` clock, like ``at``
);
CREATE INDEX alarms_at ON actorkit.alarms (at, actor_id);

CREATE TABLE actorkit.members (
    id text PRIMARY KEY,
    url text,
    region text,
    actor_types text[] NOT NULL DEFAULT '{}',
    started_at double precision NOT NULL,
    lease_until timestamptz NOT NULL  -- on the database's clock; live while in the future
);
"""

_RECORD = "a.id, a.name, a.key, a.created_at, a.input, a.region, a.initialized, a.epoch"
_RECORD_TYPES = """o_id text, o_name text, o_key text, o_created_at double precision,
    o_input bytea, o_region text, o_initialized boolean, o_epoch bigint"""

# Is member ``who`` live? (its lease has not run out on the database's clock)
_LIVE = (
    "EXISTS (SELECT 1 FROM actorkit.members m WHERE m.id = {who} "
    "AND m.lease_until > clock_timestamp())"
)

# May ``p_owner`` claim alarm row ``al`` at ``p_now``? No other live owner holds its actor,
# and no other live member's claim on it runs past ``p_now``.
_CLAIMABLE = f"""
    NOT EXISTS (SELECT 1 FROM actorkit.actors a WHERE a.id = al.actor_id
                AND a.owner <> p_owner AND {_LIVE.format(who="a.owner")})
    AND (al.claimed_by IS NULL OR al.claimed_by = p_owner OR al.claimed_until <= p_now
         OR NOT {_LIVE.format(who="al.claimed_by")})"""

_FUNCTIONS = f"""
CREATE FUNCTION actorkit.create_actor(
    p_id text, p_name text, p_key text, p_key_hash bytea, p_created_at double precision,
    p_input bytea, p_region text
) RETURNS TABLE (o_created boolean, {_RECORD_TYPES}) LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        RETURN QUERY
            INSERT INTO actorkit.actors AS a (id, name, key, key_hash, created_at, input, region)
            VALUES (p_id, p_name, p_key, p_key_hash, p_created_at, p_input, p_region)
            ON CONFLICT (name, key_hash) DO NOTHING
            RETURNING true, {_RECORD};
        IF FOUND THEN RETURN; END IF;
        -- Lost to a concurrent insert: this statement's snapshot sees the winner's row.
        RETURN QUERY SELECT false, {_RECORD} FROM actorkit.actors a
            WHERE a.name = p_name AND a.key_hash = p_key_hash;
        IF FOUND THEN RETURN; END IF;
        -- ... which was deleted meanwhile: insert again.
    END LOOP;
END $$;

-- No row: unknown actor. o_holder set: another live member holds it. Else: taken.
CREATE FUNCTION actorkit.activate(p_id text, p_owner text)
RETURNS TABLE (o_holder text, {_RECORD_TYPES}, o_ks bytea[], o_vs bytea[])
LANGUAGE plpgsql AS $$
DECLARE
    holder text;
BEGIN
    SELECT a.owner INTO holder FROM actorkit.actors a WHERE a.id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN; END IF;
    IF holder <> p_owner AND {_LIVE.format(who="holder")} THEN
        o_holder := holder;
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE actorkit.alarms SET claimed_by = NULL, claimed_until = NULL
        WHERE actor_id = p_id AND claimed_by IS NOT NULL;
    RETURN QUERY
        WITH a AS (
            UPDATE actorkit.actors SET owner = p_owner, epoch = epoch + 1 WHERE id = p_id
            RETURNING *
        )
        SELECT NULL::text, {_RECORD}, d.ks, d.vs
        FROM a, (SELECT array_agg(k) AS ks, array_agg(v) AS vs
                 FROM actorkit.kv WHERE actor_id = p_id) d;
END $$;

-- Apply groups of writes (one group: the merged batches of one actor at one epoch) whose
-- epoch is still current; return, per group, whether it was applied. kv_v NULL deletes.
CREATE FUNCTION actorkit.commit(
    g_id text[], g_epoch bigint[], g_alarm_set boolean[], g_alarm double precision[],
    g_init boolean[], kv_g integer[], kv_k bytea[], kv_v bytea[]
) RETURNS boolean[] LANGUAGE plpgsql AS $$
DECLARE
    ok boolean[];
BEGIN
    -- Lock in id order, so concurrent commits never deadlock; compare the epochs.
    WITH locked AS (
        SELECT id, epoch FROM actorkit.actors WHERE id = ANY (g_id) ORDER BY id FOR UPDATE
    )
    SELECT array_agg(l.id IS NOT NULL ORDER BY g.i) INTO ok
    FROM unnest(g_id, g_epoch) WITH ORDINALITY AS g(id, epoch, i)
    LEFT JOIN locked l ON l.id = g.id AND l.epoch = g.epoch;
    IF NOT (true = ANY (ok)) THEN RETURN ok; END IF;
    DELETE FROM actorkit.kv t USING unnest(kv_g, kv_k, kv_v) AS x(g, k, v)
        WHERE x.v IS NULL AND ok[x.g] AND t.actor_id = g_id[x.g] AND t.k = x.k;
    INSERT INTO actorkit.kv (actor_id, k, v)
        SELECT g_id[x.g], x.k, x.v FROM unnest(kv_g, kv_k, kv_v) AS x(g, k, v)
        WHERE x.v IS NOT NULL AND ok[x.g]
        ON CONFLICT (actor_id, k) DO UPDATE SET v = excluded.v;
    DELETE FROM actorkit.alarms t
        USING unnest(g_id, ok, g_alarm_set, g_alarm) AS g(id, applied, set_alarm, at)
        WHERE g.applied AND g.set_alarm AND g.at IS NULL AND t.actor_id = g.id;
    INSERT INTO actorkit.alarms (actor_id, at)
        SELECT g.id, g.at
        FROM unnest(g_id, ok, g_alarm_set, g_alarm) AS g(id, applied, set_alarm, at)
        WHERE g.applied AND g.set_alarm AND g.at IS NOT NULL
        ON CONFLICT (actor_id) DO UPDATE SET at = excluded.at;
    UPDATE actorkit.actors t SET initialized = true, input = NULL
        FROM unnest(g_id, ok, g_init) AS g(id, applied, init)
        WHERE g.applied AND g.init AND t.id = g.id;
    RETURN ok;
END $$;

CREATE FUNCTION actorkit.claim_alarms(
    p_owner text, p_now double precision, p_hold double precision, p_limit integer
) RETURNS TABLE (o_actor_id text, o_at double precision) LANGUAGE plpgsql AS $$
DECLARE
    picked text[];
BEGIN
    -- Lock the candidates; SKIP LOCKED: what a concurrent claimer is looking at is its.
    SELECT array_agg(c.actor_id) INTO picked FROM (
        SELECT al.actor_id FROM actorkit.alarms al
        WHERE al.at <= p_now AND {_CLAIMABLE}
        ORDER BY al.at, al.actor_id LIMIT p_limit
        FOR UPDATE OF al SKIP LOCKED
    ) c;
    -- Check again on a fresh snapshot: one that sees the members behind claims committed
    -- while the first statement ran (its snapshot predates them).
    RETURN QUERY
        UPDATE actorkit.alarms al SET claimed_by = p_owner, claimed_until = p_now + p_hold
        WHERE al.actor_id = ANY (picked) AND {_CLAIMABLE}
        RETURNING al.actor_id, al.at;
END $$;
"""


# Actor databases (the VFS in ``postgres_vfs``): one row per SQLite page, and a head row with
# the file's size. Pages are stored uncompressed out of line (SQLite pages compress poorly
# and are read whole).
_DB_TABLES = """
CREATE TABLE actorkit.db_meta (
    actor_id text PRIMARY KEY,
    page_size integer NOT NULL,     -- bytes per db_pages row, fixed when the db is created
    size_bytes bigint NOT NULL,     -- the database file's length
    epoch bigint NOT NULL           -- the owner epoch of the last commit
);

CREATE TABLE actorkit.db_pages (
    actor_id text NOT NULL,
    page_no integer NOT NULL,       -- bytes [page_no * page_size, (page_no + 1) * page_size)
    data bytea NOT NULL,
    PRIMARY KEY (actor_id, page_no)
);
ALTER TABLE actorkit.db_pages ALTER COLUMN data SET STORAGE EXTERNAL;
"""

_DB_FUNCTIONS = """
-- The actor's epoch before the call (NULL: unknown); deleted only if it was p_epoch.
CREATE OR REPLACE FUNCTION actorkit.delete_actor(p_id text, p_epoch bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    found_epoch bigint;
BEGIN
    SELECT epoch INTO found_epoch FROM actorkit.actors WHERE id = p_id FOR UPDATE;
    IF found_epoch = p_epoch THEN
        DELETE FROM actorkit.kv WHERE actor_id = p_id;
        DELETE FROM actorkit.alarms WHERE actor_id = p_id;
        DELETE FROM actorkit.db_pages WHERE actor_id = p_id;
        DELETE FROM actorkit.db_meta WHERE actor_id = p_id;
        DELETE FROM actorkit.actors WHERE id = p_id;
    END IF;
    RETURN found_epoch;
END $$;

-- One SQLite COMMIT of an actor database: its dirty pages and new size, applied only if
-- p_epoch is still the actor's epoch (checked under the actor row's lock). False: fenced.
CREATE OR REPLACE FUNCTION actorkit.db_commit(
    p_id text, p_epoch bigint, p_page_size integer, p_size bigint,
    p_nos integer[], p_data bytea[]
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM actorkit.actors WHERE id = p_id AND epoch = p_epoch FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
    INSERT INTO actorkit.db_meta AS m (actor_id, page_size, size_bytes, epoch)
        VALUES (p_id, p_page_size, p_size, p_epoch)
        ON CONFLICT (actor_id) DO UPDATE SET size_bytes = excluded.size_bytes,
            epoch = excluded.epoch;
    DELETE FROM actorkit.db_pages
        WHERE actor_id = p_id AND page_no::bigint * p_page_size >= p_size;
    INSERT INTO actorkit.db_pages (actor_id, page_no, data)
        SELECT p_id, x.n, x.d FROM unnest(p_nos, p_data) AS x(n, d)
        ON CONFLICT (actor_id, page_no) DO UPDATE SET data = excluded.data;
    RETURN true;
END $$;
"""

#: version n → the SQL that upgrades a version n - 1 schema to n.
UPGRADES: dict[int, str] = {2: _DB_TABLES + _DB_FUNCTIONS}


async def ensure_schema(conn: psycopg.AsyncConnection[Any], where: str) -> None:
    """Create the schema, or upgrade an older one; refuse a newer one. Safe when several
    nodes start at once: an advisory lock serializes them, and whoever comes second finds
    the work done."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        cur = await conn.execute("SELECT to_regclass('actorkit.meta') IS NOT NULL")
        exists = await cur.fetchone()
        if exists is None or not exists[0]:
            await conn.execute(_TABLES + _FUNCTIONS + _DB_TABLES + _DB_FUNCTIONS)
            await conn.execute(
                "INSERT INTO actorkit.meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),)
            )
            return
        cur = await conn.execute("SELECT v FROM actorkit.meta WHERE k = 'schema_version'")
        row = await cur.fetchone()
        version = int(row[0]) if row is not None else 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"PostgreSQL database {where} has actorkit schema version {version}; this "
                f"actorkit reads up to {SCHEMA_VERSION}: upgrade actorkit"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await conn.execute(UPGRADES[target])
            await conn.execute(
                "UPDATE actorkit.meta SET v = %s WHERE k = 'schema_version'", (str(target),)
            )
