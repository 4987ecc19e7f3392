"""The peer benchmark harness's own logic: statistics, the ratio table, install failures
reported as rows, process clean-up by PID, and the docs section. No peer runs here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmarks.peers import install
from benchmarks.peers.__main__ import run_system
from benchmarks.peers.config import BenchConfig
from benchmarks.peers.docs import END, START, write_docs_section
from benchmarks.peers.procs import ProcessSet
from benchmarks.peers.report import (
    SystemResult,
    fmt_num,
    measurements_from_driver,
    table,
)
from benchmarks.peers.stats import Measurement, RepSamples, combine_reps, percentile, ratio
from benchmarks.peers.systems import System


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_no_samples_and_bad_q() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def rep(latencies: list[float], elapsed: float, target: int = 0, errors: int = 0) -> RepSamples:
    return RepSamples(latencies_ms=latencies, elapsed_s=elapsed, target=target, errors=errors,
                      first_error="boom" if errors else "")


def test_combine_reps_takes_medians_across_repetitions() -> None:
    m = combine_reps([
        rep([1.0] * 10, 1.0),  # 10 ops/s, p50 1
        rep([2.0] * 30, 1.0),  # 30 ops/s, p50 2
        rep([9.0] * 20, 1.0),  # 20 ops/s, p50 9
    ])
    assert m.status == "ok"
    assert m.throughput == 20.0
    assert m.p50_ms == 2.0
    assert m.p99_ms == 2.0
    assert m.reps == 3
    assert m.completed == 20  # the median repetition


def test_combine_reps_marks_a_run_cut_short_by_its_budget_as_partial() -> None:
    m = combine_reps([rep([5.0] * 40, 2.0, target=100)])
    assert m.status == "partial"
    assert "40 of 100" in m.note
    assert m.throughput == 20.0


def test_combine_reps_reports_errors_and_total_failure() -> None:
    m = combine_reps([rep([1.0, 1.0], 1.0, errors=3)])
    assert m.status == "partial" and "3 errors (first: boom)" in m.note
    failed = combine_reps([rep([], 1.0, errors=2)])
    assert failed.status == "failed" and failed.note == "boom"
    assert not failed.has_numbers


def test_broadcast_throughput_overrides_wall_clock_rate() -> None:
    samples = RepSamples.from_json({"latencies_ms": [1.0, 2.0], "elapsed_s": 0.002,
                                    "target": 2, "throughput": 1000.0})
    assert combine_reps([samples]).throughput == 1000.0


def test_ratio_is_ours_over_theirs_and_none_without_numbers() -> None:
    ours = Measurement(throughput=300.0, p50_ms=2.0, p99_ms=4.0)
    theirs = Measurement(throughput=100.0, p50_ms=8.0, p99_ms=4.0)
    assert ratio(ours, theirs, "throughput") == 3.0
    assert ratio(ours, theirs, "p50_ms") == 0.25
    assert ratio(ours, Measurement(status="n/a"), "throughput") is None


def test_fmt_num_keeps_three_significant_digits() -> None:
    assert fmt_num(1234.5) == "1,234"  # banker's rounding is fine for a table
    assert fmt_num(12.345) == "12.3"
    assert fmt_num(0.012345) == "0.0123"
    assert fmt_num(None) == "–"


def test_driver_results_become_measurements_including_na_and_missing() -> None:
    raw = {"w1_http": {"reps": [{"latencies_ms": [1.0, 3.0], "elapsed_s": 0.5, "target": 0}]},
           "w4_broadcast": {"status": "n/a", "note": "no events"}}
    out = measurements_from_driver(raw, ["w1_http", "w4_broadcast", "w5_cold_wake"])
    assert out["w1_http"].throughput == 4.0 and out["w1_http"].p50_ms == 2.0
    assert out["w4_broadcast"].status == "n/a"
    assert out["w5_cold_wake"].status == "failed"


def test_table_has_ratios_against_actorkit_and_a_row_per_system_without_numbers() -> None:
    ours = SystemResult("actorkit", "actorkit",
                        workloads={"w1_http": Measurement(throughput=200.0, p50_ms=1.0,
                                                          p99_ms=2.0)})
    peer = SystemResult("peer", "Peer",
                        workloads={"w1_http": Measurement(throughput=100.0, p50_ms=4.0,
                                                          p99_ms=2.0)})
    broken = SystemResult("gone", "Gone", status="not-installed", note="exit 1: no | such")
    text = table([ours, peer, broken])
    rows = text.splitlines()
    assert rows[0].startswith("| workload | system | ops/s")
    peer_row = next(r for r in rows if "| Peer |" in r)
    assert "| 100 | 4.00 | 2.00 | 2.00× | 0.250× | 1.00× |" in peer_row
    gone_row = next(r for r in rows if "| Gone |" in r)
    assert "not-installed: exit 1: no / such" in gone_row  # pipes cannot break the table


def test_a_peer_that_fails_to_install_is_reported_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTORKIT_PEERS_CACHE", str(tmp_path / "cache"))
    missing = tmp_path / "no-such-package"
    monkeypatch.setitem(install.PACKAGES, "bogus", ("npm", [str(missing)], "bogus"))
    result = install.install_one(install.cache_dir(), "bogus")
    assert not result.ok
    assert result.error.startswith("exit ")
    system = System("bogus", "Bogus", ["bogus"], "none", lambda ctx: {})
    res = run_system(system, BenchConfig.quick(), {"bogus": result}, ["w1_http"])
    assert res.status == "not-installed"
    assert "bogus: exit " in res.note
    assert "| all workloads | Bogus |" in table([res])
    assert "not-installed: bogus: exit" in table([res])


def test_pip_peer_reports_a_broken_venv_instead_of_installing() -> None:
    r = install.install_one(Path("/nonexistent"), "ray", venv_error="exit 1: no venv")
    assert not r.ok and r.error == "venv: exit 1: no venv"


def test_process_set_kills_descendants_that_left_the_session(tmp_path: Path) -> None:
    # Like RivetKit's engine binary: a child that starts its own session.
    script = "setsid sleep 300 & echo $! > child.pid; sleep 300"
    with ProcessSet(tmp_path / "logs") as procs:
        root = procs.spawn("root", ["bash", "-c", script], cwd=tmp_path)
        pidfile = tmp_path / "child.pid"
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        child = int(pidfile.read_text())
        procs.snapshot()
        assert {root.pid, child} <= set(procs.alive())
        leftovers = procs.kill_all()
    assert leftovers == []
    for pid in (root.pid, child):
        assert not _running(pid)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init, which may be slow)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_docs_section_is_replaced_between_markers_and_prose_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nprose before\n\n{START}\nold table\n{END}\n\nprose after\n")
    data = {
        "date": "2026-11-26 07:00 UTC", "mode": "quick", "duration_s": 5,
        "command": "scripts/bench-peers --quick", "config": BenchConfig.quick().to_json(),
        "machine": {"nproc": 2, "cpu": "Xeon", "ram_gib": 23.4, "kernel": "6.1",
                    "python": "3.11", "node": "v20", "load_at_start": "1.0 1.0 1.0"},
    }
    write_docs_section(doc, data, [SystemResult("actorkit", "actorkit")])
    text = doc.read_text()
    assert "old table" not in text
    assert "prose before" in text and "prose after" in text
    assert "N = 300" in text and "2 cores (Xeon)" in text
    assert text.count(START) == 1 and text.count(END) == 1


def test_cli_help_lists_quick_and_fresh_n() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--quick" in out and "--fresh-n" in out
    json.dumps(BenchConfig().to_json())  # the config crosses to drivers as JSON


def test_saved_results_render_the_same_table(tmp_path: Path) -> None:
    ours = SystemResult("actorkit", "actorkit", version="0.1.0", processes=2,
                        workloads={"w1_http": Measurement(throughput=200.0, p50_ms=1.0,
                                                          p99_ms=2.0, reps=3)})
    broken = SystemResult("gone", "Gone", status="failed", note="engine crashed")
    saved = {r.key: json.loads(json.dumps(r.to_json())) for r in (ours, broken)}
    again = [SystemResult.from_json(k, v) for k, v in saved.items()]
    assert table(again) == table([ours, broken])
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.peers", "--render", str(_saved(tmp_path, saved)),
         "--no-docs"], capture_output=True, text=True, check=True).stdout
    assert "| 1. sequential increments, one actor, HTTP | actorkit | 200 | 1.00 | 2.00 |" in out
    assert "failed: engine crashed" in out


def _saved(tmp_path: Path, systems: dict[str, object]) -> Path:
    path = tmp_path / "peers.json"
    path.write_text(json.dumps({"systems": systems, "duration_s": 1}))
    return path
