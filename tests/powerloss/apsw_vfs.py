"""The power-loss shim for APSW's SQLite (the actor databases): a VFS over the default one
that reports every write, truncate and sync to a ``Journal`` before doing it."""

from __future__ import annotations

import os
from typing import Any

import apsw

from powerloss.journal import Journal, _Tracked

__all__ = ["register"]

# Files whose loss matters; temporary files and sub-journals are never read after a crash.
_DURABLE = apsw.SQLITE_OPEN_MAIN_DB | apsw.SQLITE_OPEN_MAIN_JOURNAL | apsw.SQLITE_OPEN_WAL
# SQLite syncs the directory on the first sync of these when opened with CREATE.
_DIRSYNC = apsw.SQLITE_OPEN_MAIN_JOURNAL | apsw.SQLITE_OPEN_WAL | apsw.SQLITE_OPEN_SUPER_JOURNAL


class _File(apsw.VFSFile):
    def __init__(self, journal: Journal, name: Any, flags: list[int]) -> None:
        path = name if isinstance(name, str) or name is None else name.filename()
        tracked = bool(path) and bool(flags[0] & _DURABLE)
        created = tracked and not os.path.exists(path)
        super().__init__("", name, flags)
        self._journal = journal
        self._tracked: _Tracked | None = journal.opened(path, created=created) if tracked else None
        self._dirsync = (
            tracked and bool(flags[0] & _DIRSYNC) and bool(flags[0] & apsw.SQLITE_OPEN_CREATE)
        )

    def xWrite(self, data: Any, offset: int) -> None:
        t = self._tracked
        if t is None:
            return super().xWrite(data, offset)
        self._journal.step()
        with t.lock:
            t.before_write(offset, bytes(data))
            super().xWrite(data, offset)

    def xTruncate(self, newsize: int) -> None:
        t = self._tracked
        if t is None:
            return super().xTruncate(newsize)
        self._journal.step()
        with t.lock:
            t.before_truncate(newsize)
            super().xTruncate(newsize)

    def xSync(self, flags: int) -> None:
        t = self._tracked
        if t is None:
            return super().xSync(flags)
        self._journal.step()
        with t.lock:
            super().xSync(flags)
            dir_too, self._dirsync = self._dirsync, False
            self._journal.synced(t, dir_too=dir_too)


class _VFS(apsw.VFS):
    def __init__(self, name: str, journal: Journal) -> None:
        self._journal = journal
        super().__init__(name, "")

    def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
        return _File(self._journal, name, flags)

    def xDelete(self, filename: str, syncdir: bool) -> None:
        super().xDelete(filename, syncdir)
        self._journal.deleted(filename)


_registered: list[_VFS] = []  # a VFS must outlive every connection using it


def register(name: str, journal: Journal) -> None:
    """Make ``name`` a VFS of APSW's SQLite that journals into ``journal``."""
    _registered.append(_VFS(name, journal))
