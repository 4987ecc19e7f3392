"""Opening the two stores of a copy or a verify, and reading one through the ``Driver``
interface only: paging the directory, every alarm, whether it stores actor databases."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

from actorkit.errors import ActorError, Code, StorageError
from actorkit.storage import Driver, SQLiteDriver, driver_from_url
from actorkit.storage.base import ActorRecord

__all__ = [
    "PAGE",
    "StoreError",
    "all_alarms",
    "check_idle",
    "count_actors",
    "iter_actors",
    "make_driver",
    "open_store",
    "redact",
    "same_store",
    "stores_databases",
]

#: Records per ``list_actors`` call.
PAGE = 500
#: An id no actor has, for asking a driver whether it stores actor databases at all.
_PROBE_ID = "actorkit-copy-probe"


class StoreError(Exception):
    """A store cannot be used: the message is one line, for the CLI to print."""


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def make_driver(url: str, flag: str) -> Driver:
    """The (unopened) driver for ``url``; ``flag`` names it in messages."""
    if url.split(":", 1)[0] in ("memory", ""):
        raise StoreError(
            f"{flag} {url}: memory:// keeps nothing outside one process; "
            "use sqlite:///dir or postgresql://…"
        )
    try:
        return driver_from_url(url)
    except (ValueError, ImportError) as exc:
        raise StoreError(f"{flag} {redact(url)}: {exc}") from None


def same_store(a: Driver, b: Driver, url_a: str, url_b: str) -> bool:
    """Whether two drivers are for the same store (same SQLite directory, or same URL)."""
    if isinstance(a, SQLiteDriver) and isinstance(b, SQLiteDriver):
        return a.directory.resolve() == b.directory.resolve()
    return url_a == url_b


async def open_store(driver: Driver, url: str, flag: str, *, must_exist: bool) -> Driver:
    """Open ``driver`` (for ``url``; ``flag`` names it in messages). ``must_exist``: refuse
    a SQLite directory that holds no store, rather than creating one."""
    if must_exist and isinstance(driver, SQLiteDriver) and not driver.path.exists():
        raise StoreError(f"{flag} {url}: no actorkit store there ({driver.path} does not exist)")
    try:
        await driver.open()
    except StorageError as exc:
        hint = ""
        if isinstance(driver, SQLiteDriver) and "in use" in str(exc):
            hint = " (stop the server using it first)"
        raise StoreError(f"{flag} {redact(url)}: {exc}{hint}") from None
    return driver


async def check_idle(driver: Driver, flag: str, url: str, *, force: bool) -> None:
    """Refuse a store that live nodes are using (a shared driver's membership), unless
    ``force``: they would change it while we read or write it."""
    live = [m for m in await driver.members() if m.live]
    if live and not force:
        names = ", ".join(m.id for m in live[:5]) + (" …" if len(live) > 5 else "")
        raise StoreError(
            f"{flag} {redact(url)} is in use by {len(live)} live node(s) ({names}): stop them "
            "first, or pass --force to go ahead while they run (the result is then not a "
            "consistent snapshot)"
        )


async def iter_actors(driver: Driver, page: int = PAGE) -> AsyncIterator[ActorRecord]:
    """Every record, in the driver's id order."""
    after: str | None = None
    while True:
        records = await driver.list_actors(after=after, limit=page)
        for record in records:
            yield record
        if len(records) < page:
            return
        after = records[-1].id


async def count_actors(driver: Driver) -> int:
    return sum([1 async for _ in iter_actors(driver, 2000)])


async def all_alarms(driver: Driver) -> dict[str, float]:
    """actor id → alarm time, for every alarm. ``due_alarms(inf)`` has no paging, so ask
    again with a larger limit until the answer is shorter than the limit: complete."""
    limit = 10_000
    while True:
        alarms = await driver.due_alarms(math.inf, limit)
        if len(alarms) < limit:
            return dict(alarms)
        limit *= 4


async def stores_databases(driver: Driver) -> bool:
    """Whether the driver stores actor databases (``open_actor_db`` does not raise
    ``database_not_supported``). Asks about an id no actor has, without creating it."""

    def probe() -> bool:
        try:
            conn = driver.open_actor_db(_PROBE_ID, epoch=0, create=False)
        except ActorError as exc:
            if exc.code == Code.DATABASE_NOT_SUPPORTED:
                return False
            raise
        if conn is not None:
            driver.close_actor_db(_PROBE_ID, conn)
        return True

    return await asyncio.to_thread(probe)
