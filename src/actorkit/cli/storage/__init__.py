"""``actorkit storage copy|verify``: move a store to another backend (one machine to a
cluster, a cluster to a local directory), and check that two stores hold the same actors.

Example::

    actorkit storage copy --from sqlite:///.actorkit --to postgresql://app@db/actors --verify
    actorkit storage verify --from sqlite:///.actorkit --to postgresql://app@db/actors

Both work through the storage ``Driver`` interface only (see ``copy.py``), so any pair of
stores works, and programs can call ``copy_store`` and ``verify_stores`` on open drivers.
See ``docs/cli.md`` and ``docs/migrating.md``.

This module only defines the arguments; the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``storage copy`` and ``storage verify`` to the ``actorkit`` parser."""
    storage = sub.add_parser(
        "storage",
        help="copy a store to another backend, verify a copy",
        description="Copy every actor (directory, state, schedules, connection records, "
        "databases) from one store to another, and compare two stores.",
    )
    commands = storage.add_subparsers(dest="storage_command", metavar="SUBCOMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
        p.add_argument("--from", dest="source", required=True, metavar="URL",
                       help="the store to read: sqlite:///dir or postgresql://…")  # fmt: skip
        p.add_argument("--to", dest="target", required=True, metavar="URL",
                       help="the other store: sqlite:///dir or postgresql://…")  # fmt: skip
        p.add_argument(
            "--skip-databases",
            action="store_true",
            help="leave actor databases (self.db) out: needed when --to cannot store them",
        )
        p.add_argument(
            "--force",
            action="store_true",
            help="go ahead although live cluster nodes use a store (not a consistent snapshot)",
        )
        p.add_argument("--concurrency", type=int, default=64, metavar="N",
                       help="actors in flight at once (default 64)")  # fmt: skip
        p.add_argument(
            "--progress-interval",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="seconds between progress lines when stderr is not a terminal (default 5; "
            "0: no progress)",
        )
        return p

    copy = command("copy", "copy every actor of --from into --to")
    copy.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a store that has actors: those with a source actor's name and key "
        "are replaced, the others kept",
    )
    copy.add_argument("--verify", action="store_true", help="verify the copy afterwards")
    verify = command("verify", "check that --to holds the same actors as --from")
    verify.add_argument(
        "--report",
        metavar="FILE",
        default=None,
        help="write one JSON line per actor (counts, checksums, differences)",
    )
    verify.add_argument("--show", type=int, default=20, metavar="N",
                        help="list at most N differing actors (default 20)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from actorkit.cli.storage.commands import run as run_command

    return run_command(args)
