"""The power-loss shim for the SQLite library behind the stdlib ``sqlite3`` module (the main
store), registered through ``ctypes``: that library is not APSW's (APSW links its own copy),
so an APSW VFS is invisible to it.

The shim reuses the default ``unix`` VFS whole and changes only what must be seen: after
``unix``'s ``xOpen`` fills in the file, the file's method table is swapped for a copy whose
``xWrite``, ``xTruncate``, ``xSync`` and ``xClose`` are Python callbacks (reporting to the
``Journal``, then calling the originals); every other method is ``unix``'s own C function,
which is valid because the file object is ``unix``'s own.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_int64, c_void_p
from typing import Any

from powerloss.journal import Journal, _Tracked

__all__ = ["register"]

SQLITE_OK = 0
SQLITE_IOERR = 10
OPEN_CREATE = 0x04
OPEN_MAIN_DB = 0x100
OPEN_MAIN_JOURNAL = 0x800
OPEN_SUPER_JOURNAL = 0x4000
OPEN_WAL = 0x80000
_DURABLE = OPEN_MAIN_DB | OPEN_MAIN_JOURNAL | OPEN_WAL
_DIRSYNC = OPEN_MAIN_JOURNAL | OPEN_WAL | OPEN_SUPER_JOURNAL


class _Vfs(Structure):
    _fields_ = [
        ("iVersion", c_int),
        ("szOsFile", c_int),
        ("mxPathname", c_int),
        ("pNext", c_void_p),
        ("zName", c_char_p),
        ("pAppData", c_void_p),
        *((name, c_void_p) for name in (
            "xOpen", "xDelete", "xAccess", "xFullPathname", "xDlOpen", "xDlError", "xDlSym",
            "xDlClose", "xRandomness", "xSleep", "xCurrentTime", "xGetLastError",
            "xCurrentTimeInt64", "xSetSystemCall", "xGetSystemCall", "xNextSystemCall",
        )),
    ]  # fmt: skip


class _IoMethods(Structure):
    _fields_ = [
        ("iVersion", c_int),
        *((name, c_void_p) for name in (
            "xClose", "xRead", "xWrite", "xTruncate", "xSync", "xFileSize", "xLock", "xUnlock",
            "xCheckReservedLock", "xFileControl", "xSectorSize", "xDeviceCharacteristics",
            "xShmMap", "xShmLock", "xShmBarrier", "xShmUnmap", "xFetch", "xUnfetch",
        )),
    ]  # fmt: skip


_OPEN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_int, c_void_p)
_DELETE = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int)
_CLOSE = CFUNCTYPE(c_int, c_void_p)
_WRITE = CFUNCTYPE(c_int, c_void_p, c_void_p, c_int, c_int64)
_TRUNCATE = CFUNCTYPE(c_int, c_void_p, c_int64)
_SYNC = CFUNCTYPE(c_int, c_void_p, c_int)


def _library() -> ctypes.CDLL:
    """The libsqlite3 the ``sqlite3`` module loaded (dlopen returns the same handle)."""
    import _sqlite3

    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libsqlite3" in line}
    if len(paths) != 1:
        raise RuntimeError(f"cannot tell which libsqlite3 {_sqlite3.__file__} uses: {paths}")
    lib = ctypes.CDLL(paths.pop())
    lib.sqlite3_libversion.restype = c_char_p
    if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        raise RuntimeError("the libsqlite3 found is not the one the sqlite3 module uses")
    lib.sqlite3_vfs_find.restype = POINTER(_Vfs)
    lib.sqlite3_vfs_find.argtypes = [c_char_p]
    lib.sqlite3_vfs_register.argtypes = [POINTER(_Vfs), c_int]
    return lib


class _Shim:
    def __init__(self, name: str, journal: Journal) -> None:
        self.journal = journal
        self.lib = _library()
        unix = self.lib.sqlite3_vfs_find(b"unix")
        self.unix_ptr = ctypes.cast(unix, c_void_p).value
        self.unix = unix.contents
        self.real_open = _OPEN(self.unix.xOpen)
        self.real_delete = _DELETE(self.unix.xDelete)
        # file address → (journal entry, the original methods, directory sync pending)
        self.files: dict[int, list[Any]] = {}
        self.tables: dict[int, tuple[_IoMethods, Any]] = {}  # original table → the swapped one
        self.callbacks = (
            _OPEN(self.x_open),
            _DELETE(self.x_delete),
            _CLOSE(self.x_close),
            _WRITE(self.x_write),
            _TRUNCATE(self.x_truncate),
            _SYNC(self.x_sync),
        )
        self.vfs = _Vfs.from_buffer_copy(self.unix)
        self.name = name.encode()
        self.vfs.zName = self.name
        self.vfs.pNext = None
        self.vfs.xOpen = ctypes.cast(self.callbacks[0], c_void_p).value
        self.vfs.xDelete = ctypes.cast(self.callbacks[1], c_void_p).value
        if self.lib.sqlite3_vfs_register(ctypes.byref(self.vfs), 0) != SQLITE_OK:
            raise RuntimeError("sqlite3_vfs_register failed")

    def _swapped(self, original: int) -> int:
        entry = self.tables.get(original)
        if entry is None:
            table = _IoMethods.from_buffer_copy(_IoMethods.from_address(original))
            table.xClose = ctypes.cast(self.callbacks[2], c_void_p).value
            table.xWrite = ctypes.cast(self.callbacks[3], c_void_p).value
            table.xTruncate = ctypes.cast(self.callbacks[4], c_void_p).value
            table.xSync = ctypes.cast(self.callbacks[5], c_void_p).value
            entry = self.tables[original] = (table, _IoMethods.from_address(original))
        return ctypes.addressof(entry[0])

    def x_open(self, _vfs: int, name: int | None, file: int, flags: int, out: int | None) -> int:
        try:
            path = ctypes.string_at(name).decode() if name else ""
            tracked = bool(path) and bool(flags & _DURABLE)
            created = tracked and not os.path.exists(path)
            rc: int = self.real_open(self.unix_ptr, name, file, flags, out)
            methods = c_void_p.from_address(file)
            if rc != SQLITE_OK or not tracked or not methods.value:
                return rc
            original = _IoMethods.from_address(methods.value)
            methods.value = self._swapped(methods.value)
            dirsync = bool(flags & _DIRSYNC) and bool(flags & OPEN_CREATE)
            self.files[file] = [self.journal.opened(path, created=created), original, dirsync]
            return SQLITE_OK
        except Exception:
            return SQLITE_IOERR

    def x_delete(self, _vfs: int, name: bytes, syncdir: int) -> int:
        rc: int = self.real_delete(self.unix_ptr, name, syncdir)
        if rc == SQLITE_OK:
            self.journal.deleted(name.decode())
        return rc

    def _entry(self, file: int) -> tuple[_Tracked, _IoMethods]:
        tracked, original, _ = self.files[file]
        return tracked, original

    def x_close(self, file: int) -> int:
        _, original = self._entry(file)
        del self.files[file]
        rc: int = _CLOSE(original.xClose)(file)
        return rc

    def x_write(self, file: int, data: int, amount: int, offset: int) -> int:
        tracked, original = self._entry(file)
        self.journal.step()
        with tracked.lock:
            try:
                tracked.before_write(offset, ctypes.string_at(data, amount))
            except OSError:
                return SQLITE_IOERR
            rc: int = _WRITE(original.xWrite)(file, data, amount, offset)
        return rc

    def x_truncate(self, file: int, size: int) -> int:
        tracked, original = self._entry(file)
        self.journal.step()
        with tracked.lock:
            try:
                tracked.before_truncate(size)
            except OSError:
                return SQLITE_IOERR
            rc: int = _TRUNCATE(original.xTruncate)(file, size)
        return rc

    def x_sync(self, file: int, flags: int) -> int:
        entry = self.files[file]
        tracked, original = entry[0], entry[1]
        self.journal.step()
        with tracked.lock:
            rc: int = _SYNC(original.xSync)(file, flags)
            if rc == SQLITE_OK:
                dir_too, entry[2] = entry[2], False
                self.journal.synced(tracked, dir_too=dir_too)
        return rc


_registered: list[_Shim] = []  # the structures and callbacks must outlive every connection


def register(name: str, journal: Journal) -> None:
    """Make ``name`` a VFS of the stdlib ``sqlite3``'s SQLite that journals into ``journal``;
    open with ``sqlite3.connect("file:/path?vfs=<name>", uri=True)``."""
    _registered.append(_Shim(name, journal))
