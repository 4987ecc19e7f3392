"""kill -9 in the middle of a write-heavy workload: every actor database passes
``PRAGMA integrity_check``, every acknowledged write is present, and each actor's state
agrees with its rows (state changes and db writes are kept or lost together)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from apps.db_worker import Ledger, registry

WORKER = Path(__file__).parent / "apps" / "db_worker.py"
ACTORS = 6
ACKS_BEFORE_KILL = 600


def _run_until_killed(directory: Path) -> dict[int, int]:
    """Run the worker until it has acknowledged enough writes, SIGKILL it; the acks seen."""
    acked: dict[int, int] = {}
    total = 0
    with subprocess.Popen(
        [sys.executable, str(WORKER), str(directory), str(ACTORS)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                _, actor, n = line.split()
                acked[int(actor)] = max(acked.get(int(actor), 0), int(n))
                total += 1
                if total >= ACKS_BEFORE_KILL:
                    break
        finally:
            proc.kill()  # SIGKILL: no shutdown code runs
            proc.wait(timeout=60)
    assert proc.returncode == -9
    assert total >= ACKS_BEFORE_KILL, "worker exited before the kill"
    return acked


async def test_db_kill_9_keeps_acknowledged_writes_consistent(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    acked = await asyncio.to_thread(_run_until_killed, directory)

    files = sorted((directory / "actors").glob("*.db"))
    assert len(files) == ACTORS
    for path in [*files, directory / "actorkit.db"]:
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], path
        finally:
            conn.close()

    async with registry.test_client(f"sqlite:///{directory}") as client:
        for i in range(ACTORS):
            result = await client.get(Ledger, f"k{i}").check()
            assert result["state"] == result["rows"] == result["top"], (i, result)
            assert result["state"] >= acked.get(i, 0), (i, result, acked.get(i))
            # The restarted actor keeps working from where it was.
            n = await client.get(Ledger, f"k{i}").append(10)
            assert n == result["state"] + 1


async def test_db_commit_without_state_commit_recovers_state_from_db(tmp_path: Path) -> None:
    """Killed after a turn's db commit but before its state batch reached the main store:
    the state copy written with the db transaction wins on wake, so rows and state agree."""
    directory = tmp_path / "data"

    def run() -> None:
        with subprocess.Popen(
            [sys.executable, str(WORKER), str(directory), "stall"],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "stalled"
            finally:
                proc.kill()
                proc.wait(timeout=60)

    await asyncio.to_thread(run)
    async with registry.test_client(f"sqlite:///{directory}") as client:
        result = await client.get(Ledger, "k0").check()
        assert result == {"state": 4, "rows": 4, "top": 4}
