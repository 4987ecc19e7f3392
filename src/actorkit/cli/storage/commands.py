"""What ``actorkit storage copy`` and ``verify`` do: open both stores, refuse unsafe ones,
run ``copy_store`` / ``verify_stores`` and print the outcome."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import IO, Any

from actorkit.cli.storage.copy import CopyError, CopyOptions, CopyReport, copy_store, describe
from actorkit.cli.storage.stores import (
    StoreError,
    check_idle,
    count_actors,
    make_driver,
    open_store,
    redact,
    same_store,
)
from actorkit.cli.storage.verify import VerifyReport, verify_stores
from actorkit.errors import ActorError, StorageError
from actorkit.storage import Driver

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (StoreError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ActorError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except CopyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.partial:
            print(
                f"{exc.copied:,} actors were copied before it stopped; the target holds a "
                "partial copy: fix the cause and run the copy again with --overwrite",
                file=sys.stderr,
            )
        return 1


async def _run(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise StoreError("--concurrency must be at least 1")
    source = make_driver(args.source, "--from")
    target = make_driver(args.target, "--to")
    if same_store(source, target, args.source, args.target):
        raise StoreError("--from and --to name the same store")
    copying = args.storage_command == "copy"
    await open_store(source, args.source, "--from", must_exist=True)
    try:
        await open_store(target, args.target, "--to", must_exist=not copying)
        try:
            await check_idle(source, "--from", args.source, force=args.force)
            await check_idle(target, "--to", args.target, force=args.force)
            if copying:
                return await _copy(args, source, target)
            return await _verify(args, source, target)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(args: argparse.Namespace, source: Driver, target: Driver) -> int:
    total = await count_actors(source)
    where = f"from {redact(args.source)} to {redact(args.target)}"
    if args.progress_interval > 0:
        print(f"copying {total:,} actors {where}", file=sys.stderr, flush=True)
    options = CopyOptions(
        overwrite=args.overwrite,
        skip_databases=args.skip_databases,
        concurrency=args.concurrency,
    )
    report = await copy_store(
        source, target, options, total=total, progress_interval=args.progress_interval
    )
    _print_copy(report, where)
    if not args.verify:
        return 0
    verified = await verify_stores(
        source,
        target,
        skip_databases=args.skip_databases,
        concurrency=args.concurrency,
        total=total,
        progress_interval=args.progress_interval,
    )
    _print_verify(verified, show=20)
    # The copy is what is checked: actors only the target has (kept by --overwrite) are
    # listed but are no failure of the copy.
    return 0 if not verified.differ else 1


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError


def _print_copy(r: CopyReport, where: str) -> None:
    print(f"copied {r.actors:,} actors {where} in {r.seconds:.1f} s ({r.rate:,.0f} actors/s)")
    print(
        f"  data: {r.keys:,} keys ({_size(r.key_bytes)}), {r.alarms:,} alarms, "
        f"{r.uninitialized:,} not yet initialised (create input kept)"
    )
    if r.databases:
        methods = ", ".join(f"{n:,} by {m}" for m, n in sorted(r.methods.items()))
        print(f"  databases: {r.databases:,} copied ({_size(r.database_bytes)}; {methods})")
    if r.skipped_databases:
        print(
            f"  skipped {r.skipped_databases:,} actor databases: the target does not store "
            "actor databases (--skip-databases)"
        )
    if r.replaced:
        print(f"  replaced {r.replaced:,} actors the target had (--overwrite)")


async def _verify(args: argparse.Namespace, source: Driver, target: Driver) -> int:
    total = await count_actors(source)
    out: IO[str] | None = None
    if args.report:
        out = open(args.report, "w", encoding="utf-8")  # noqa: SIM115, ASYNC230 - closed below

    def write(line: dict[str, Any]) -> None:
        assert out is not None
        out.write(json.dumps(line) + "\n")

    try:
        report = await verify_stores(
            source,
            target,
            skip_databases=args.skip_databases,
            concurrency=args.concurrency,
            total=total,
            progress_interval=args.progress_interval,
            on_actor=write if out is not None else None,
        )
    finally:
        if out is not None:
            out.close()
    _print_verify(report, show=args.show)
    return 0 if report.ok else 1


def _print_verify(r: VerifyReport, *, show: int) -> None:
    verdict = "equal" if r.ok else "DIFFERENT"
    print(
        f"verified {r.actors:,} actors against {r.other_actors:,} in {r.seconds:.1f} s: "
        f"{verdict} ({r.equal:,} equal, {len(r.differ):,} differ, {len(r.extra):,} only in --to)"
    )
    if r.skipped_databases:
        dbs = "not compared (--skip-databases)"
    elif not any(r.stores_databases):
        dbs = "none (neither store keeps actor databases)"
    else:
        dbs = f"{r.databases:,} ({r.db_rows:,} rows)"
    print(f"  equal actors hold {r.keys:,} keys, {r.alarms:,} alarms, databases: {dbs}")
    for d in r.differ[:show]:
        key = "/".join(d.key) or "(no key)"
        print(f"  differs: {d.name} {key} ({d.actor_id}): " + "; ".join(d.what))
    for record in r.extra[: max(0, show - len(r.differ))]:
        print(f"  only in --to: {describe(record)}")
    hidden = len(r.differ) + len(r.extra) - show
    if hidden > 0:
        print(f"  … and {hidden:,} more (--show N, or --report FILE for all)")
