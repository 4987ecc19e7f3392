"""Storage drivers: ``memory://``, ``sqlite:///path`` (default ``./.actorkit``) and, for
clusters, ``postgresql://…``. See ``docs/storage.md``."""

from __future__ import annotations

from actorkit.storage.base import ActorRecord, Driver, WriteBatch
from actorkit.storage.memory import MemoryDriver
from actorkit.storage.sqlite import SQLiteDriver

__all__ = [
    "DEFAULT_STORAGE",
    "ActorRecord",
    "Driver",
    "MemoryDriver",
    "SQLiteDriver",
    "WriteBatch",
    "driver_from_url",
]

DEFAULT_STORAGE = "sqlite:///.actorkit"


def driver_from_url(url: str) -> Driver:
    """Build a driver from a storage URL.

    ``memory://`` → ``MemoryDriver``; ``sqlite:///relative/dir`` or ``sqlite:////abs/dir`` →
    ``SQLiteDriver``; ``postgresql://…`` or ``postgres://…`` (a libpq URL) →
    ``PostgresDriver``, which needs the ``postgres`` extra.
    """
    if url == "memory://" or url == "memory":
        return MemoryDriver()
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel → "rel"; sqlite:////abs → "/abs"
        if not path:
            raise ValueError(f"storage URL {url!r} names no directory")
        return SQLiteDriver(path)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra (the import names the pip install).
        from actorkit.storage.postgres import PostgresDriver

        return PostgresDriver(url)
    raise ValueError(
        f"unknown storage URL {url!r}: use memory://, sqlite:///path or postgresql://…"
    )
