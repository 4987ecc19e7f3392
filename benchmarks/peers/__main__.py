"""Run actorkit and its peers side by side: ``python -m benchmarks.peers [--quick]``.

Installs the peers into ``~/.cache/actorkit-peers`` (idempotent), runs the five workloads
on each system in turn, prints one table of ratios (actorkit ÷ peer) with absolute numbers,
writes ``benchmarks/results/peers.json``, ``docs/benchmarks.png`` and the results section
of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.peers import install
from benchmarks.peers.catalog import NOT_MEASURED, SYSTEMS
from benchmarks.peers.config import WORKLOADS, BenchConfig
from benchmarks.peers.docs import write_docs_section
from benchmarks.peers.report import SystemResult, measurements_from_driver, systems_table, table
from benchmarks.peers.stats import Measurement
from benchmarks.peers.systems import REPO, RunContext, System, new_workdir


def machine() -> dict[str, str | int | float]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                          if ln.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node,
        "load_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a few-minute smoke run")
    p.add_argument("--fresh-n", type=int, help="actors for workload 3 (default 10000; quick 300)")
    p.add_argument("--systems", help="comma-separated subset of: "
                   + ",".join(s.key for s in SYSTEMS))
    p.add_argument("--workloads", help="comma-separated subset of: " + ",".join(WORKLOADS))
    p.add_argument("--no-docs", action="store_true",
                   help="do not rewrite docs/benchmarks.md and docs/benchmarks.png")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "peers.json"))
    p.add_argument("--render", metavar="JSON",
                   help="run nothing: print the table and rewrite the docs from saved results")
    return p.parse_args(argv)


def run_system(system: System, cfg: BenchConfig, installed: dict[str, install.Installed],
               only: list[str]) -> SystemResult:
    """Run one system; whatever goes wrong becomes its status and note, never an exception."""
    res = SystemResult(system.key, system.label, durability=system.durability)
    versions = [installed[n].version for n in system.needs if installed[n].ok]
    res.version = " + ".join(versions) if system.needs else _actorkit_version()
    missing = [installed[n] for n in system.needs if not installed[n].ok]
    if missing:
        res.status = "not-installed"
        res.note = "; ".join(f"{m.name}: {m.error}" for m in missing)
        return res
    t = time.monotonic()
    failures = 0
    for w in only:
        if system.workloads is not None and w not in system.workloads:
            res.workloads[w] = Measurement(status="not-measured",
                                           note=system.skip_note or "not in this run")
        elif w in system.unsupported:
            status, note = system.unsupported[w]
            res.workloads[w] = Measurement(status=status, note=note)
        else:
            res.workloads[w] = _run_workload(system, cfg, installed, w, res)
            failures += res.workloads[w].status == "failed"
    ran = [m for m in res.workloads.values() if m.status not in ("n/a", "not-measured")]
    if ran and failures == len(ran):
        res.status = "failed"
        res.note = ran[0].note
    print(f"  {system.label}: {res.status} in {time.monotonic() - t:.0f} s {res.note}", flush=True)
    return res


def _run_workload(system: System, cfg: BenchConfig, installed: dict[str, install.Installed],
                  workload: str, res: SystemResult) -> Measurement:
    """One workload on a freshly started system, so no workload inherits another's load."""
    work = new_workdir()
    ctx = RunContext(cfg=cfg, installed=installed, cache=install.cache_dir(), work=work,
                     only=[workload], system=system)
    started = time.monotonic()
    try:
        raw = system.runner(ctx)
        m = measurements_from_driver(raw, [workload])[workload]
    except Exception as exc:  # a failing peer is a row in the table, not a crash
        traceback.print_exc()
        m = Measurement(status="failed", note=f"{type(exc).__name__}: {exc}"[:600])
    finally:
        res.processes = max(res.processes, ctx.processes)
        if ctx.leftovers:
            res.note += f" (processes that survived SIGKILL: {ctx.leftovers})"
        shutil.rmtree(work, ignore_errors=True)
    m.wall_s = round(time.monotonic() - started, 1)
    print(f"    {workload}: {m.status} in {m.wall_s:.0f} s", flush=True)
    return m


def _actorkit_version() -> str:
    try:
        from importlib.metadata import version

        return version("actorkit")
    except Exception:
        return "dev"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text())
        results = [SystemResult.from_json(k, v) for k, v in data["systems"].items()]
        publish(data, results, Path(args.render), docs=not args.no_docs)
        return 0
    cfg = BenchConfig.quick() if args.quick else BenchConfig()
    if args.fresh_n:
        cfg.fresh_n = args.fresh_n
    cfg.run_id = f"r{int(time.time())}"
    only = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    chosen = [s for s in SYSTEMS if not args.systems or s.key in args.systems.split(",")]
    started = time.monotonic()
    print(f"installing peers into {install.cache_dir()} (idempotent)", flush=True)
    needed = sorted({n for s in chosen for n in s.needs})
    installed = install.install_all(needed)
    results: list[SystemResult] = []
    for system in chosen:
        print(f"running {system.label} ...", flush=True)
        results.append(run_system(system, cfg, installed, only))
    for name, reason in NOT_MEASURED.items():
        results.append(SystemResult(name.lower(), name, status="not-measured", note=reason))
    data = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "command": "scripts/bench-peers " + " ".join(argv),
        "config": cfg.to_json(),
        "machine": machine(),
        "duration_s": round(time.monotonic() - started),
        "systems": {r.key: r.to_json() for r in results},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    publish(data, results, out, docs=not args.no_docs)
    return 0


def publish(data: dict[str, Any], results: list[SystemResult], out: Path, *, docs: bool) -> None:
    """Print the tables; with ``docs``, draw the chart and rewrite the docs' results section."""
    print()
    print(systems_table(results))
    print()
    print(table(results))
    print(f"\nJSON: {out}  ({data['duration_s']} s)")
    if not docs:
        return
    png = REPO / "docs" / "benchmarks.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([str(install.venv_python(install.cache_dir())), "-m",
                        "benchmarks.peers.chart", str(out), str(png)],
                       cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    if r.returncode != 0:
        print(f"chart failed: {r.stderr[-500:]}", file=sys.stderr)
    write_docs_section(REPO / "docs" / "benchmarks.md", data, results)
    print(f"docs: {png}, docs/benchmarks.md")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
