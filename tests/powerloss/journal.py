"""The power-loss model: what a disk keeps when the power goes.

A file's content is durable up to its last ``fsync`` (SQLite's ``xSync``); every write or
truncate after it is volatile. The shims (``apsw_vfs``, ``ctypes_vfs``) write the data
through to the real file, as the OS page cache would, but first append an undo record (the
bytes and the size the change overwrites) to the file's journal, on disk. ``xSync`` empties
the journal. A ``kill -9`` loses nothing the process wrote (the page cache survives it), so
afterwards another process calls ``roll_back``, which applies the undo records newest first:
each file is back to its content at its last sync, which is what a power loss leaves.

Directory entries: a file the shim created is lost entirely at a loss until its directory
is synced. SQLite syncs the directory on the first ``xSync`` of a WAL or rollback journal
opened with ``SQLITE_OPEN_CREATE`` (``UNIXFILE_DIRSYNC`` in ``os_unix.c``); the shim credits
exactly that. Directory syncs made outside SQLite (the driver's ``_fsync_dir``) are not
seen, so they are not credited: the model is stricter than the disk there. Deleting a file
is taken as durable at once (SQLite deletes a WAL only after checkpointing it into a synced
database, so a WAL brought back would only replay pages already there), and so is ``mkdir``.

The WAL index (``-shm``) is shared memory, not storage: ``roll_back`` deletes it.

By default an unsynced write is lost whole; ``roll_back(keep=...)`` models a disk that
wrote back some unsynced sectors (torn and reordered writes) instead.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Journal", "RollBack", "roll_back"]

# kind (b"w" write, b"t" truncate), offset of the change, file size before it, lengths of
# the old bytes and of the new bytes that follow
_RECORD = struct.Struct("<cqqII")
SECTOR = 512  # what a disk writes atomically, for ``roll_back(keep=...)``
_HEADER = struct.Struct("<I")  # length of the UTF-8 path that follows


class _Tracked:
    """One data file's undo journal. Callers hold ``lock`` around a change and its record."""

    def __init__(self, path: str, journal_dir: Path) -> None:
        self.path = path
        name = hashlib.sha1(path.encode()).hexdigest()[:20]
        self.undo_path = journal_dir / f"{name}.undo"
        self.new_marker = journal_dir / f"{name}.new"
        self.lock = threading.Lock()
        encoded = path.encode()
        self._header = _HEADER.pack(len(encoded)) + encoded
        self._undo = os.open(self.undo_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if os.fstat(self._undo).st_size == 0:
            os.write(self._undo, self._header)
        self._data: int | None = None
        self.dirty = False  # changed since the last sync

    def reopen(self) -> None:
        """The data file was (re)opened: read pre-images from the file now at ``path``."""
        if self._data is not None:
            os.close(self._data)
        self._data = os.open(self.path, os.O_RDONLY)

    def _record(self, kind: bytes, offset: int, length: int, new: bytes) -> None:
        if self._data is None:
            self.reopen()
        assert self._data is not None
        size = os.fstat(self._data).st_size
        old = os.pread(self._data, max(0, min(length, size - offset)), offset)
        # One write() per record: a kill cannot leave half of it (the page cache keeps it).
        os.write(self._undo, _RECORD.pack(kind, offset, size, len(old), len(new)) + old + new)
        self.dirty = True

    def before_write(self, offset: int, data: bytes) -> None:
        self._record(b"w", offset, len(data), data)

    def before_truncate(self, size: int) -> None:
        self._record(b"t", size, 1 << 62, b"")

    def synced(self) -> None:
        os.ftruncate(self._undo, len(self._header))
        self.dirty = False

    def close(self) -> None:
        os.close(self._undo)
        if self._data is not None:
            os.close(self._data)
            self._data = None


class Journal:
    """The process-wide journal both shims report to.

    ``crash_after``: when set, the process SIGKILLs itself at that change or sync (counted
    from when it was set), before performing it: a power loss at a chosen I/O step.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self.ops = 0  # changes and syncs seen
        self.syncs = 0
        self.crash_after: int | None = None
        # called after a data file's sync with its path and whether it had changed
        self.on_sync: Callable[[str, bool], None] | None = None
        self.on_crash: Callable[[], None] | None = None  # called just before the kill

    def step(self) -> None:
        """Count one change or sync; power off here if this is the chosen step."""
        with self._lock:
            self.ops += 1
            crash = self.crash_after is not None and self.ops >= self.crash_after
        if crash:
            if self.on_crash is not None:
                self.on_crash()
            os.kill(os.getpid(), signal.SIGKILL)

    def opened(self, path: str, *, created: bool) -> _Tracked:
        """``path`` was opened for writing; ``created`` if the open made the file."""
        with self._lock:
            tracked = self._files.get(path)
            if tracked is None:
                tracked = self._files[path] = _Tracked(path, self.directory)
        with tracked.lock:
            tracked.reopen()
            if created:
                tracked.new_marker.write_text(path)
        return tracked

    def synced(self, tracked: _Tracked, *, dir_too: bool) -> None:
        """``tracked`` was synced (and, if ``dir_too``, its directory after it)."""
        dirty = tracked.dirty
        tracked.synced()
        if dir_too:
            self.dir_synced(os.path.dirname(tracked.path))
        self.syncs += 1
        if self.on_sync is not None:
            self.on_sync(tracked.path, dirty)

    def dir_synced(self, directory: str) -> None:
        with self._lock:
            inside = [t for p, t in self._files.items() if os.path.dirname(p) == directory]
        for tracked in inside:
            tracked.new_marker.unlink(missing_ok=True)

    def deleted(self, path: str) -> None:
        with self._lock:
            tracked = self._files.pop(path, None)
        if tracked is not None:
            with tracked.lock:
                tracked.close()
                tracked.undo_path.unlink(missing_ok=True)
                tracked.new_marker.unlink(missing_ok=True)


@dataclass
class RollBack:
    """What ``roll_back`` undid."""

    files: int = 0  # files with unsynced changes rolled back
    records: int = 0  # changes undone
    bytes: int = 0  # bytes restored or cut
    removed: int = 0  # files whose directory entry was never synced, deleted
    kept: int = 0  # unsynced sectors and truncates redone (``keep``)


def roll_back(
    journal_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    *,
    keep: random.Random | None = None,
) -> RollBack:
    """After the journaling process died: put every file back to its last synced content,
    delete files whose creation was never made durable and the WAL indexes (``-shm``), and
    empty the journal. Run by another process.

    ``keep``: a harsher disk, one that wrote some of the unsynced changes back before the
    power went. After the rollback each unsynced truncate and each ``SECTOR`` of each
    unsynced write is redone, in order, with probability 1/2 drawn from ``keep``: any
    combination of old and new sectors, as SQLite's own crash tests assume a disk may
    leave (a sector holds its old or its new bytes, never garbage).
    """
    journal_dir, data_dir = Path(journal_dir), Path(data_dir)
    summary = RollBack()
    for undo in sorted(journal_dir.glob("*.undo")):
        raw = undo.read_bytes()
        (length,) = _HEADER.unpack_from(raw)
        path = raw[_HEADER.size : _HEADER.size + length].decode()
        marker = undo.with_suffix(".new")
        if marker.exists():
            if os.path.exists(path):
                os.unlink(path)
                summary.removed += 1
            marker.unlink()
            undo.unlink()
            continue
        records: list[tuple[bytes, int, int, bytes, bytes]] = []
        at = _HEADER.size + length
        while at < len(raw):
            kind, offset, size, n_old, n_new = _RECORD.unpack_from(raw, at)
            at += _RECORD.size
            old, new = raw[at : at + n_old], raw[at + n_old : at + n_old + n_new]
            records.append((kind, offset, size, old, new))
            at += n_old + n_new
        if records and os.path.exists(path):
            fd = os.open(path, os.O_WRONLY)
            try:
                for _, offset, size, old, _ in reversed(records):
                    current = os.fstat(fd).st_size
                    os.pwrite(fd, old, offset)
                    os.ftruncate(fd, size)
                    summary.bytes += len(old) + abs(current - size)
                if keep is not None:
                    summary.kept += _redo_some(fd, records, keep)
            finally:
                os.close(fd)
            summary.files += 1
            summary.records += len(records)
        undo.unlink()
    for marker in journal_dir.glob("*.new"):  # created, never written
        path = marker.read_text()
        if os.path.exists(path):
            os.unlink(path)
            summary.removed += 1
        marker.unlink()
    for shm in data_dir.rglob("*-shm"):
        shm.unlink()
    return summary


def _redo_some(
    fd: int, records: list[tuple[bytes, int, int, bytes, bytes]], keep: random.Random
) -> int:
    kept = 0
    for kind, offset, _, _, new in records:
        if kind == b"t":
            if keep.random() < 0.5:
                os.ftruncate(fd, offset)
                kept += 1
            continue
        end = offset + len(new)
        for start in range(offset - offset % SECTOR, end, SECTOR):
            lo, hi = max(start, offset), min(start + SECTOR, end)
            if keep.random() < 0.5:
                os.pwrite(fd, new[lo - offset : hi - offset], lo)
                kept += 1
    return kept
