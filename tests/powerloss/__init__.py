"""Power-loss testing: a SQLite VFS shim that journals every write not yet synced, so that
after a ``kill -9`` the files can be rolled back to what a disk would have kept.

- ``journal``: the model (undo records on disk, rollback), shared by both shims;
- ``apsw_vfs``: the shim for APSW's SQLite (actor databases);
- ``ctypes_vfs``: the shim for the SQLite behind the stdlib ``sqlite3`` (the main store);
- ``worker``: the process that runs the runtime over the shims and is killed;
- ``harness``: runs losses and checks every acknowledged write.
"""
