"""An actor database as files on disk (``sqlite://``): the database file and its WAL.

- The size budget: ``ActorOptions.db_max_size`` counts both files (``over_budget``).
- Disk full: SQLite reports a full file system and the actor's page limit alike
  (SQLITE_FULL); ``disk_full`` tells them apart.
- Verified files: ``PRAGMA quick_check`` reads the whole database, so a file this process
  checked, used and closed is not checked again while it is exactly as it was left (same
  inode, size and modification time). What the check is for — bytes changed behind the
  runtime's back, above all while the server was stopped — shows in those, and a restart
  starts with an empty record. Bounded: the oldest entries are forgotten first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict

__all__ = ["VERIFIED_MAX", "DbFiles"]

#: Files remembered as verified (about 150 bytes each).
VERIFIED_MAX = 100_000

# A failed write with less free space than this on the file's file system is "disk full",
# not the actor's size limit.
_LOW_DISK_BYTES = 1024 * 1024

_Signature = tuple[int, int, int, int]
_verified: OrderedDict[str, _Signature] = OrderedDict()
_verified_lock = threading.Lock()


def _signature(path: str) -> _Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class DbFiles:
    """The files of one open database: ``path`` and its WAL ``wal``."""

    def __init__(self, path: str, wal: str, max_bytes: int) -> None:
        self.path = path
        self.wal = wal
        self.max_bytes = max_bytes

    def disk_bytes(self) -> int:
        """Bytes on disk: the file and its WAL."""
        total = 0
        for path in (self.path, self.wal):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(path).st_size
        return total

    def over_budget(self) -> bool:
        return self.disk_bytes() > self.max_bytes

    def disk_full(self) -> bool:
        """Whether the file system is (nearly) out of space for this database."""
        try:
            fs = os.statvfs(os.path.dirname(self.path) or ".")
        except OSError:
            return False
        return fs.f_bavail * fs.f_frsize < _LOW_DISK_BYTES

    def verified_before(self) -> bool:
        """This process checked the file and it has not changed since it was closed."""
        with _verified_lock:
            known = _verified.get(self.path)
        return known is not None and known == _signature(self.path)

    def remember(self, verified: bool) -> None:
        """After the connection is closed: record the file as verified, or forget it."""
        signature = _signature(self.path) if verified else None
        with _verified_lock:
            _verified.pop(self.path, None)
            if signature is not None:
                _verified[self.path] = signature
                while len(_verified) > VERIFIED_MAX:
                    _verified.popitem(last=False)
