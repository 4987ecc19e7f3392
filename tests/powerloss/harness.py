"""Simulated power losses, one after another on the same data directory, each checked.

A run: start ``worker.py`` (the runtime over the shims) on the data directory; it first
reads back every actor the previous run wrote (``seen``), then writes until the journal
kills it at a seeded random I/O step; the harness rolls the files back to their last synced
content (``journal.roll_back``) and starts the next run, which recovers from that. A last
run only reads everything. An acknowledged write is lost if a later read shows a value
below it; a value above the last acknowledged one plus the call in flight, a ledger whose
rows disagree with its state, or a database failing ``PRAGMA integrity_check`` at the end
is a problem too.

``python -m powerloss.harness --mode durable --losses 200 --seed 1`` (``scripts/powerloss``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import actorkit
from powerloss.journal import roll_back
from powerloss.worker import RELAXED_INTERVAL, workload

__all__ = ["Report", "run_losses"]

WORKER = Path(__file__).with_name("worker.py")
#: The crash step is drawn from this range of changes and syncs after the worker is ready
#: (relaxed mode does I/O once per interval; the unsafe self-test must see acks first).
STEPS = {"durable": (1, 400), "unsafe": (100, 400), "relaxed": (1, 60)}
#: The share of default-mode runs armed from the start rather than once the check is done.
EARLY = 0.2
#: A worker still alive after this long is stuck: a failure, not a loss.
STUCK_SECONDS = 300.0


@dataclass
class Report:
    mode: str
    seed: int
    rolled_back: bool = True  # False: plain kill -9, no simulated power loss
    keep_some: bool = False  # the disk also wrote back some unsynced sectors
    losses: int = 0  # runs ended by a simulated power loss
    early: int = 0  # … of which armed from the start (the loss may hit recovery, the check)
    acks: int = 0  # acknowledged writes, each checked by a later read
    lost: int = 0  # acknowledged writes missing after recovery
    max_lost_per_loss: int = 0  # the most acknowledged writes one actor lost at once
    max_loss_age: float = 0.0  # seconds from the oldest lost write's ack to the power loss
    # Relaxed mode: lost writes the documented window does not allow (see ``_Books``)
    beyond_window: int = 0
    max_commits_before_loss: int = 0  # the most such commits seen before a lost write
    undone: int = 0  # unsynced changes the rollbacks discarded
    removed: int = 0  # files whose creation was never made durable, removed
    kept: int = 0  # unsynced sectors and truncates the disk wrote back anyway (keep_some)
    problems: list[str] = field(default_factory=list)


class _Books:
    """What was acknowledged per actor, and the checks against what was read back.

    Relaxed mode's window, checked by event order rather than by elapsed time: a change
    made at ``t`` is in a save submitted by ``t + interval``; before the commit carrying it
    the store finishes at most the driver's transaction in flight and the committer's
    commit queued behind it. So a write acknowledged at ``t`` may be lost only if fewer than
    three commits of the main store became durable (a WAL sync with changes) between
    ``t + interval`` and the power loss.
    """

    def __init__(self, report: Report, window: float | None) -> None:
        self.report = report
        self.window = window
        self.acked: dict[tuple[str, str], int] = {}
        self.ack_times: dict[tuple[str, str, int], tuple[float, float]] = {}  # → (ack, crash)
        self.pending: list[tuple[str, str, int, float]] = []  # acks of the running worker
        self.syncs: list[float] = []  # main-store commits made durable by the running worker
        self.last_syncs: list[float] = []  # … by the previous one

    def ack(self, cls: str, key: str, value: int, at: float) -> None:
        self.report.acks += 1
        self.acked[cls, key] = max(value, self.acked.get((cls, key), 0))
        self.pending.append((cls, key, value, at))

    def crashed(self, at: float | None) -> None:
        self.ack_times = {}  # only the last run's acks can be lost: the check comes next
        self.last_syncs, self.syncs = self.syncs, []
        for cls, key, value, acked_at in self.pending:
            self.ack_times[cls, key, value] = (acked_at, acked_at if at is None else at)
        self.pending = []

    def seen(self, cls: str, key: str, value: int, extra: list[int]) -> None:
        expected = self.acked.get((cls, key), 0)
        if value < expected:
            lost = expected - value
            self.report.lost += lost
            self.report.max_lost_per_loss = max(self.report.max_lost_per_loss, lost)
            for lost_value in range(value + 1, expected + 1):
                acked_at, crash_at = self.ack_times.get((cls, key, lost_value), (0.0, 0.0))
                self.report.max_loss_age = max(self.report.max_loss_age, crash_at - acked_at)
                if self.window is not None:
                    start = acked_at + self.window
                    commits = sum(1 for at in self.last_syncs if start < at < crash_at)
                    self.report.beyond_window += commits >= 3
                    self.report.max_commits_before_loss = max(
                        self.report.max_commits_before_loss, commits
                    )
        elif value > expected + 1:  # one call in flight per actor at most
            self.report.problems.append(f"{cls} {key}: read {value}, acknowledged {expected}")
        if extra and extra != [value, value]:
            self.report.problems.append(f"{cls} {key}: state {value}, rows/top {extra}")
        self.acked[cls, key] = value  # later acks continue from what survived


def _worker_env() -> dict[str, str]:
    # The worker imports the same actorkit as this process, and the powerloss package.
    src = str(Path(actorkit.__file__).resolve().parent.parent)
    tests = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, tests])}


def _run_worker(
    data: Path, journal: Path, mode: str, crash_after: int, run: int,
    check: list[tuple[str, str]], books: _Books,
) -> tuple[bool, bool]:  # fmt: skip
    """One worker to its end: (killed by the simulated power loss, finished its check)."""
    args = [str(data), str(journal), mode, str(crash_after), str(run), json.dumps(check)]
    errors = data.parent / "worker.stderr"  # a file: a full pipe would stall the worker
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_worker_env(),
        ) as proc,
    ):
        watchdog = threading.Timer(STUCK_SECONDS, proc.kill)
        watchdog.start()
        crash_at: float | None = None
        ready = False
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                kind, *rest = line.split()
                if kind == "ack":
                    books.ack(rest[0], rest[1], int(rest[2]), float(rest[3]))
                elif kind == "seen":
                    books.seen(rest[0], rest[1], int(rest[2]), [int(x) for x in rest[3:]])
                elif kind == "ready":
                    ready = True
                elif kind == "sync":
                    books.syncs.append(float(rest[0]))
                elif kind == "crash":
                    crash_at = float(rest[0])
            proc.wait()
        finally:
            watchdog.cancel()
    books.crashed(crash_at)
    if crash_after and crash_at is not None and proc.returncode == -9:
        return True, ready
    if not crash_after and proc.returncode == 0:
        return False, ready
    books.report.problems.append(
        f"run {run}: worker exited {proc.returncode} (crash step {crash_after}): "
        f"{errors.read_text().strip()[-2000:]}"
    )
    return False, ready


def run_losses(
    directory: Path,
    mode: str,
    losses: int,
    seed: int,
    *,
    roll: bool = True,
    keep_some: bool = False,
) -> Report:
    """``losses`` simulated power losses in ``mode`` on a data directory under ``directory``;
    ``roll=False`` skips the rollbacks (a plain ``kill -9``); ``keep_some``: the disk also
    wrote back a random half of the unsynced sectors (see ``journal.roll_back``)."""
    data, journal = directory / "data", directory / "journal"
    directory.mkdir(parents=True, exist_ok=True)
    report = Report(mode, seed, roll, keep_some)
    books = _Books(report, RELAXED_INTERVAL if mode == "relaxed" else None)
    rng = random.Random(seed)
    written: dict[tuple[str, str], None] = {}
    check: dict[tuple[str, str], None] = {}  # written since last read back
    for run in range(losses):
        crash_after = rng.randint(*STEPS[mode])
        if mode == "durable" and rng.random() < EARLY:
            crash_after = -rng.randint(1, 60)
            report.early += 1
        killed, ready = _run_worker(data, journal, mode, crash_after, run, list(check), books)
        report.losses += killed
        if roll:
            keep = random.Random(rng.random()) if keep_some else None
            rolled = roll_back(journal, data, keep=keep)
            report.undone += rolled.records
            report.removed += rolled.removed
            report.kept += rolled.kept
        if ready:
            check = {}
        check.update(dict.fromkeys(workload(mode, run)))
        written.update(check)
    _run_worker(data, journal, mode, 0, losses, list(written), books)
    for path in [data / "actorkit.db", *sorted((data / "actors").glob("*.db"))]:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
        if result != [("ok",)]:
            report.problems.append(f"{path.name}: integrity_check {result[:3]}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(STEPS), default="durable")
    parser.add_argument("--losses", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-rollback", action="store_true", help="kill -9 only")
    parser.add_argument(
        "--keep-some", action="store_true", help="the disk writes back some unsynced sectors"
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="actorkit-powerloss-") as tmp:
        report = run_losses(
            Path(tmp),
            args.mode,
            args.losses,
            args.seed,
            roll=not args.no_rollback,
            keep_some=args.keep_some,
        )
    for name, value in asdict(report).items():
        if name != "problems":
            print(f"{name:>18}: {value}")
    if args.mode == "relaxed":
        print(f"{'documented window':>18}: {RELAXED_INTERVAL} s (state_save_interval)")
    failures = [*report.problems, *verdict(report)]
    for failure in failures:
        print("FAILED:", failure)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    sys.exit(1 if failures else 0)


def verdict(report: Report) -> list[str]:
    """What a mode promises, as failures (problems are reported separately)."""
    if report.mode == "durable" and report.lost:
        return [f"{report.lost} acknowledged writes lost in the default mode"]
    if report.mode == "relaxed" and report.beyond_window:
        return [f"{report.beyond_window} writes lost beyond relaxed mode's window"]
    if report.mode == "unsafe" and report.rolled_back and not report.lost:
        return ["synchronous=OFF lost nothing: the shim does not discard unsynced writes"]
    return []


if __name__ == "__main__":
    main()
