"""A lost or corrupt actor database is reported with a stable code, once, and never
papered over (see ``docs/sql.md``, "When the database is damaged").

- **Missing**: once the actor's database exists, the main store records it (``DB_KEY``,
  written once, in a batch of its own, by ``ActorDatabase``). A wake that finds the key but
  no database fails with ``database_missing``: the runtime never silently starts over with
  an empty one. A database from before the key existed gets it on its next wake.
- **Corrupt**: a database that fails ``PRAGMA quick_check`` when opened, or on which SQLite
  reports ``SQLITE_CORRUPT``/``SQLITE_NOTADB``, fails with ``database_corrupt``: the actor
  does not wake (its state copy in the database cannot be read), or, if awake, refuses
  every further database call and is unloaded, so the next call checks the file again. The
  runtime never writes to it.
- Each problem is logged as one line, once per actor and process, until the database is
  found sound again (``clear_report``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actorkit.errors import ActorError, Code

if TYPE_CHECKING:
    from actorkit._runtime.instance import ActorInstance

__all__ = ["DAMAGE", "DB_KEY", "clear_report", "missing_error", "report"]

#: Main-store key present once the actor has a database.
DB_KEY = b"db"
#: The codes of a damaged database.
DAMAGE = (Code.DATABASE_CORRUPT, Code.DATABASE_MISSING)

# Actor id → the damage code last logged for it. Holds only actors with damage.
_reported: dict[str, str] = {}


def missing_error(actor_id: str) -> ActorError:
    return ActorError(
        "actor",
        Code.DATABASE_MISSING,
        f"actor {actor_id}'s database is missing from storage although the actor created "
        "one; it was not recreated (restore it, or see docs/sql.md)",
        {"actor_id": actor_id},
    )


def report(inst: ActorInstance, err: ActorError) -> ActorError:
    """Log ``err`` (one line, no traceback) unless it was logged for this actor already;
    return it."""
    if _reported.get(inst.id) != err.code:
        _reported[inst.id] = err.code
        inst.log.error("%s: %s", err.code, err.message)
    return err


def clear_report(actor_id: str, *, checked: bool) -> None:
    """The actor woke. A restored database, or one ``quick_check`` passed, is sound again:
    a new problem with it is logged again. (A wake that skipped the check proves nothing.)"""
    if checked or _reported.get(actor_id) == Code.DATABASE_MISSING:
        _reported.pop(actor_id, None)
