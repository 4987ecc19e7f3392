"""Rewrite the generated results section of ``docs/benchmarks.md`` (between markers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.peers.report import SystemResult, systems_table, table

START = "<!-- results:start (written by python -m benchmarks.peers) -->"
END = "<!-- results:end -->"


def results_section(data: dict[str, Any], results: list[SystemResult]) -> str:
    m = data["machine"]
    c = data["config"]
    return "\n".join([
        START,
        f"Measured **{data['date']}**, {data['mode']} mode, in {data['duration_s']} s, with "
        f"`{data['command'].strip()}`.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}, Node {m['node']}; load average at start "
        f"{m['load_at_start']} (the machine was shared with other engineers' test runs).",
        "",
        f"Sizes: workloads 1 and 2 run {c['rep_seconds']} s per repetition, "
        f"{c['reps']} repetitions after {c['warmup_calls']} warm-up calls; workload 2 uses "
        f"{c['callers']} callers over {c['actors']} actors; workload 3 creates "
        f"**N = {c['fresh_n']:,}** fresh actors ({c['callers']} at a time, budget "
        f"{c['fresh_budget_s']:.0f} s); workload 4 connects {c['clients']:,} clients and "
        f"broadcasts {c['broadcasts']} times after one warm-up; workload 5 wakes "
        f"{c['wakes']} actors idle for {c['sleep_wait_s']} s (idle timeout "
        f"{c['sleep_timeout_s']} s). Numbers are medians across repetitions.",
        "",
        systems_table(results),
        "",
        "Ratios are actorkit ÷ peer: above 1× is better for actorkit in ops/s, below 1× is "
        "better for actorkit in p50/p99.",
        "",
        table(results),
        "",
        "![actorkit and peers](benchmarks.png)",
        END,
    ])


def write_docs_section(path: Path, data: dict[str, Any], results: list[SystemResult]) -> None:
    section = results_section(data, results)
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + section + after)
