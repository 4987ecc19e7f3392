"""``scripts/chaos``: many seeded chaos runs (chaos/runner.py) and a summary.

    scripts/chaos                 # seeds 1-50, single node (SQLite)
    scripts/chaos 200 --cluster   # seeds 1-200, a 3-node cluster on PostgreSQL
    scripts/chaos 17-17           # replay seed 17 alone

PostgreSQL is found as the test suite finds it (tests/postgres_server.py):
``ACTORKIT_TEST_POSTGRES_URL``, else a server on 127.0.0.1:5432, else a throwaway
embedded one. Each seed gets a fresh database. Exits 1 if any history is not
linearizable, a seed could not run, or the servers could not serve once faults ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator

from chaos.runner import SeedResult, Settings, default_dump, run_seed
from postgres_server import RunningServer, choose_server, fresh_database, running_server


def seed_range(text: str) -> range:
    """``"50"`` → seeds 1..50; ``"100-149"`` → 100..149."""
    first, _, last = text.partition("-")
    if not last:
        return range(1, int(first) + 1)
    return range(int(first), int(last) + 1)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.split("\n")[0])
    parser.add_argument("seeds", nargs="?", default="50", help="N (1..N) or FIRST-LAST")
    parser.add_argument("--cluster", action="store_true", help="nodes on PostgreSQL")
    parser.add_argument("--nodes", type=int, default=3, help="cluster size (default 3)")
    parser.add_argument("--seconds", type=float, default=12.0, help="chaos per seed")
    parser.add_argument("--clients", type=int, default=6)
    return parser.parse_args(argv)


@contextlib.contextmanager
def postgres(cluster: bool) -> Iterator[RunningServer | None]:
    """The PostgreSQL server for a cluster run (``None`` for a single-node run)."""
    if not cluster:
        yield None
        return
    with running_server(choose_server()) as server:
        print(f"postgres: {server.description}", flush=True)
        yield server


def summary(results: list[SeedResult], errors: list[str], started: float) -> str:
    calls: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    for r in results:
        calls.update(r.calls)
        faults.update(r.faults)
    violations = [v for r in results for v in r.verdicts.violations]
    undecided = [u for r in results for u in r.verdicts.undecided]
    problems = [p for r in results for p in r.problems]
    injected = sum(v for k, v in faults.items() if not k.startswith("proxy "))
    lines = [
        "",
        f"seeds: {len(results)} run, {len(errors)} could not run "
        f"({time.monotonic() - started:.0f} s)",
        f"operations: {sum(calls.values())} ({calls['ok']} ok, {calls['fail']} failed "
        f"with no effect, {calls['info']} unknown outcomes)",
        f"checked: {sum(r.verdicts.operations for r in results)} operations in histories, "
        f"{sum(r.verdicts.unknown for r in results)} of unknown outcome",
        f"faults injected: {injected} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(faults.items()) if not k.startswith("proxy "))
        + "); proxy events: "
        + (
            ", ".join(f"{k[6:]} {v}" for k, v in sorted(faults.items()) if k.startswith("proxy "))
            or "none"
        ),
        f"violations: {len(violations)}",
        f"undecided (checker timed out): {len(undecided)}",
        f"servers not serving after the faults: {len(problems)}",
    ]
    lines += [f"  {p}" for p in [*violations, *undecided, *problems, *errors]]
    return "\n".join(lines)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT cancel the run, so every server, proxy and database is cleaned up
    (a background job from a script ignores SIGINT unless told otherwise)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)


async def main(argv: list[str]) -> int:
    args = parse(argv)
    stop_on_signals()
    settings = Settings(
        seconds=args.seconds,
        clients=args.clients,
        nodes=args.nodes,
        client_timeout=5.0 if args.cluster else 3.0,
    )
    seeds = seed_range(args.seeds)
    mode = f"{args.nodes}-node cluster" if args.cluster else "single node"
    print(f"chaos: seeds {seeds.start}-{seeds.stop - 1}, {mode}, {args.seconds} s each")
    results: list[SeedResult] = []
    errors: list[str] = []
    started = time.monotonic()
    with postgres(args.cluster) as server:
        for seed in seeds:
            try:
                if server is None:
                    result = await run_seed(seed, settings, dump=default_dump())
                else:
                    with fresh_database(server.url) as url:
                        result = await run_seed(seed, settings, url, dump=default_dump())
            except Exception:
                errors.append(f"seed {seed}: {traceback.format_exc()}")
                print(f"seed {seed}: could not run\n{errors[-1]}", flush=True)
                continue
            results.append(result)
            print(result.line(), flush=True)
    print(summary(results, errors, started), flush=True)
    bad = any(r.verdicts.violations or r.problems for r in results) or errors
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except asyncio.CancelledError:
        sys.exit("interrupted")
