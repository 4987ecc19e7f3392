"""Crash safety: a real process on the sqlite driver is ``kill -9``ed at random moments.

Every acknowledged increment must survive, and nothing that was never attempted may appear.
The worker is ``tests/crash_worker.py``; its log holds ``A <actor>`` before each call and
``K <actor> <count>`` after each acknowledged reply.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).with_name("crash_worker.py")
CYCLES = 50
ACTORS = 8


def start_worker(data: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), "run", str(data), str(log), str(ACTORS)],
        stdout=subprocess.PIPE,
    )


def parse(log: Path) -> tuple[dict[int, int], dict[int, list[int]], list[str]]:
    """``(attempts per actor, acked counts per actor in log order, problems)``."""
    attempts = dict.fromkeys(range(ACTORS), 0)
    acked: dict[int, list[int]] = {i: [] for i in range(ACTORS)}
    problems: list[str] = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts[0] == "A":
            attempts[int(parts[1])] += 1
        else:
            actor, count = int(parts[1]), int(parts[2])
            if count > attempts[actor]:
                problems.append(f"actor {actor} acked {count} after {attempts[actor]} attempts")
            if acked[actor] and count <= acked[actor][-1]:
                problems.append(f"actor {actor} acked {count} after {acked[actor][-1]}")
            acked[actor].append(count)
    return attempts, acked, problems


def test_kill_9_never_loses_an_acknowledged_increment(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data, log = tmp_path / "data", tmp_path / "log"
    for cycle in range(CYCLES):
        proc = start_worker(data, log)
        try:
            if cycle % 10 == 9:
                # Sometimes kill before the worker is serving (during start-up and recovery).
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                assert proc.stdout is not None
                assert proc.stdout.readline() == b"ready\n", f"cycle {cycle}, seed {seed}"
                time.sleep(rng.uniform(0.0, 0.2))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, f"worker exited on its own (seed {seed})"

    report = subprocess.run(
        [sys.executable, str(WORKER), "report", str(data), str(ACTORS)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    counts = {int(k): v for k, v in json.loads(report.stdout).items()}
    attempts, acked, problems = parse(log)
    assert problems == [], f"seed {seed}"
    total_acked = sum(len(a) for a in acked.values())
    assert total_acked >= CYCLES, f"too little work got done to mean anything (seed {seed})"
    # Some kills landed while calls were in flight (attempted, never acknowledged).
    assert sum(attempts.values()) > total_acked
    for actor in range(ACTORS):
        last = acked[actor][-1] if acked[actor] else 0
        assert last <= counts[actor] <= attempts[actor], (
            f"actor {actor}: last acked {last}, stored {counts[actor]}, "
            f"attempted {attempts[actor]} (seed {seed})"
        )
    # Stored counts may exceed the last ack only by calls that were cut off mid-flight.
    assert sum(counts.values()) - sum(a[-1] if a else 0 for a in acked.values()) <= CYCLES * ACTORS
    assert os.path.exists(data / "actorkit.db")
