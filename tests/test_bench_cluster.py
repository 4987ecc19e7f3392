"""The cluster benchmark runs end to end on tiny sizes against the tests' PostgreSQL, writes
every section, and leaves no server process or database behind. No time is asserted (the
machine is shared): the numbers themselves are in docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def test_cluster_benchmark_quick_run_writes_every_section(
    postgres_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "cluster.json"
    tiny = ["--failover-rounds", "1", "--directory-actors", "1000", "--seconds", "0.5"]
    tiny += ["--latency-calls", "30", "--activations", "64"]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cluster", "--quick", "--postgres", postgres_url,
         "--out", str(out), *tiny],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())

    latency = {(r["setup"], r["what"]) for r in data["latency"]}
    assert {
        ("sqlite, 1 node", "local call"),
        ("postgresql, 1 node", "local call"),
        ("postgresql, 3 nodes", "local call"),
        ("postgresql, 3 nodes", "forwarded call"),
    } <= latency
    calls = {(r["setup"], r["routing"]) for r in data["throughput"]}
    assert {("sqlite, 1 node", "any node")} | {
        (f"postgresql, {n}", "any node") for n in ("1 node", "2 nodes", "3 nodes")
    } <= calls
    assert {r["setup"] for r in data["activations"]} == {
        "sqlite, 1 node",
        "postgresql, 1 node",
        "postgresql, 3 nodes",
    }
    for row in data["throughput"] + data["activations"]:
        assert row["n"] > 0 and row["p50_ms"] is not None, row
    assert data["failover"]["rounds"] == 1 and len(data["failover"]["samples_s"]) == 1
    assert data["failover"]["lost_acknowledged"] == 0, data["failover"]
    assert data["directory"]["small"]["actors"] == 100
    assert data["directory"]["large"]["actors"] == 1000
    for size in ("small", "large"):
        assert data["directory"][size]["find"]["n"] > 0
        assert data["directory"][size]["wake_call"]["n"] > 0
    assert set(data["goals"]) == {
        "forwarding_added_p50_ms",
        "cluster_activations_per_s",
        "failover_p99_s",
        "directory_p50_ratio",
    }
    assert "| failover |" in proc.stdout  # the table was printed

    # Nothing left behind: every node process ended, every throwaway database dropped.
    assert data["processes"]
    assert [p for p in data["processes"] if _still_serving(p["pid"], p["port"])] == []
    assert len(data["databases"]) == 5
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (data["databases"],)
        ).fetchall()
    assert left == []


def test_cluster_benchmark_fails_clearly_on_a_postgres_url_that_does_not_answer() -> None:
    # (Only the default URL, when nothing was asked for, is skipped quietly, so that
    # `scripts/bench` goes on to the other benchmarks.)
    bad = "postgresql://postgres@127.0.0.1:1/postgres"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cluster", "--quick", "--postgres", bad],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "ACTORKIT_TEST_POSTGRES_URL"},
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot connect to PostgreSQL" in proc.stderr


def _still_serving(pid: int, port: int) -> bool:
    """Whether ``pid`` is still the benchmark's node on ``port`` (not a zombie, and not a
    new process that got the same pid: pids are reused quickly on a busy machine)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"benchmarks.cluster:registry" in argv and str(port).encode() in argv
