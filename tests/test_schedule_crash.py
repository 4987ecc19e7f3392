"""Schedules survive kill -9 of a real process and fire promptly after restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).parent / "apps" / "schedule_worker.py"


def test_schedules_survive_kill_9(tmp_path: Path) -> None:
    n = 20
    data = tmp_path / "data"
    acked = []
    with subprocess.Popen(
        [sys.executable, str(WORKER), "schedule", str(data), str(n)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line.split()[1]))
            if len(acked) == n:
                break
        os.kill(proc.pid, signal.SIGKILL)  # before any schedule is due
    assert acked == list(range(n))

    out = subprocess.run(
        [sys.executable, str(WORKER), "check", str(data), str(n)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    fired = {int(line.split()[1]): int(line.split()[2]) for line in out if line}
    # Every acknowledged schedule fired, and its effect happened exactly once.
    assert fired == dict.fromkeys(range(n), 1)
