"""Apply an actor class's ``migrations`` to its database, each exactly once.

``migrations`` is a sequence of SQL strings (one or more statements each) or callables that
take a blocking ``SyncDb`` (``def add_index(db): db.execute("CREATE INDEX …")``). Migration
``i`` runs when the database has fewer than ``i + 1`` recorded in ``_actorkit_migrations``;
each runs in its own transaction together with its record, so a crash or an error leaves it
either fully applied and recorded or not at all. A failure raises ``migration_failed``
naming the index, and the actor does not wake until the class is fixed.

Example::

    class Todos(Actor):
        migrations = [
            "CREATE TABLE todo (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
            "ALTER TABLE todo ADD COLUMN done INTEGER NOT NULL DEFAULT 0",
        ]
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from typing import Any

import apsw

from actorkit._runtime.db_engine import Engine
from actorkit.errors import ActorError, Code

__all__ = ["apply_migrations", "check_migrations"]

log = logging.getLogger("actorkit.actor")


def check_migrations(owner: str, migrations: Sequence[Any]) -> None:
    """Reject a malformed ``migrations`` attribute when the class is registered."""
    if isinstance(migrations, str | bytes) or not isinstance(migrations, Sequence):
        raise TypeError(f"{owner}.migrations must be a list of SQL strings or callables")
    for i, migration in enumerate(migrations):
        if not (isinstance(migration, str) or callable(migration)):
            raise TypeError(f"{owner}.migrations[{i}] must be a SQL string or a callable")


def _failed(owner: str, index: int, reason: str) -> ActorError:
    return ActorError(
        "actor",
        Code.MIGRATION_FAILED,
        f"actor {owner!r}: migration {index} failed: {reason}",
        {"migration": index},
    )


def apply_migrations(engine: Engine, owner: str, migrations: Sequence[Any]) -> int:
    """Run the migrations not yet recorded; returns how many ran. Blocking: call in the pool."""
    conn = engine.conn
    done: int = conn.execute("SELECT count(*) FROM _actorkit_migrations").fetchall()[0][0]  # type: ignore[assignment]
    if done > len(migrations):
        log.warning(
            "actor %r: database has %d migrations applied but the class defines %d",
            owner,
            done,
            len(migrations),
        )
    ran = 0
    for index in range(done, len(migrations)):
        migration = migrations[index]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(migration, str):
                conn.execute(migration).fetchall()
            else:
                result = migration(engine.sync)
                if inspect.isawaitable(result):
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                    raise _failed(owner, index, "a callable migration must be synchronous")
            conn.execute(
                "INSERT INTO _actorkit_migrations (idx, applied_at) VALUES (?, ?)",
                (index, time.time()),
            )
            conn.execute("COMMIT")
        except ActorError:
            engine.rollback()
            raise
        except apsw.Error as exc:
            engine.rollback()
            raise _failed(owner, index, str(exc)) from None
        except Exception as exc:
            engine.rollback()
            raise _failed(owner, index, f"{type(exc).__name__}: {exc}") from None
        ran += 1
    return ran
