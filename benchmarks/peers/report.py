"""The ratio table (actorkit ÷ peer, plus absolute numbers), JSON and the docs section."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchmarks.peers.config import TITLES, WORKLOADS
from benchmarks.peers.stats import Measurement, RepSamples, combine_reps, ratio

OURS = "actorkit"


@dataclass
class SystemResult:
    """Everything the table says about one system."""

    key: str
    label: str
    version: str = ""
    durability: str = ""
    status: str = "ok"  # ok | failed | not-installed | not-measured
    note: str = ""
    processes: int = 0
    workloads: dict[str, Measurement] = field(default_factory=dict)

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> SystemResult:
        return cls(
            key=key,
            label=data["label"],
            version=data.get("version", ""),
            durability=data.get("durability", ""),
            status=data.get("status", "ok"),
            note=data.get("note", ""),
            processes=data.get("processes", 0),
            workloads={w: Measurement.from_json(m) for w, m in data["workloads"].items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "version": self.version,
            "durability": self.durability,
            "status": self.status,
            "note": self.note,
            "processes": self.processes,
            "workloads": {k: m.to_json() for k, m in self.workloads.items()},
        }


def measurements_from_driver(raw: dict[str, Any], only: list[str]) -> dict[str, Measurement]:
    """Turn a driver's ``RESULT`` payload into one ``Measurement`` per workload asked for."""
    out: dict[str, Measurement] = {}
    for name in only:
        entry = raw.get(name)
        if entry is None:
            out[name] = Measurement(status="failed", note="the driver reported nothing")
        elif "reps" in entry:
            out[name] = combine_reps([RepSamples.from_json(r) for r in entry["reps"]])
        else:
            out[name] = Measurement(status=str(entry.get("status", "failed")),
                                    note=str(entry.get("note", "")))
    return out


def fmt_num(x: float | None, digits: int = 3) -> str:
    """Numbers for humans: three significant digits, thousands separated."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{fmt_num(r)}×"


def table(results: list[SystemResult]) -> str:
    """One markdown table: per workload, actorkit first, then each peer with its ratios.

    A system with no numbers at all (not installed, failed to start, not measured) gets a
    single row saying why, after the workloads.
    """
    ours = next((r for r in results if r.key == OURS and r.status == "ok"), None)
    head = ("| workload | system | ops/s | p50 ms | p99 ms | ops/s ratio | p50 ratio | "
            "p99 ratio | note |")
    lines = [head, "|" + "---|" * 9]
    measured = [r for r in results if r.status == "ok"]
    for w in WORKLOADS:
        for res in measured:
            m = res.workloads.get(w)
            if m is None:
                continue
            ratios: list[float | None] = [None, None, None]
            if ours is not None and res is not ours and w in ours.workloads:
                o = ours.workloads[w]
                ratios = [ratio(o, m, "throughput"), ratio(o, m, "p50_ms"), ratio(o, m, "p99_ms")]
            note = m.note if m.status in ("ok", "partial") else f"{m.status}: {m.note}"
            lines.append(
                f"| {TITLES[w]} | {res.label} | {fmt_num(m.throughput)} | {fmt_num(m.p50_ms)} | "
                f"{fmt_num(m.p99_ms)} | {' | '.join(fmt_ratio(r) for r in ratios)} | "
                f"{_cell(note)} |"
            )
    for res in results:
        if res.status != "ok":
            lines.append(f"| all workloads | {res.label} | – | – | – | – | – | – | "
                         f"{_cell(f'{res.status}: {res.note}')} |")
    return "\n".join(lines)


def _cell(text: str, limit: int = 200) -> str:
    text = text.replace("|", "/").replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def systems_table(results: list[SystemResult]) -> str:
    lines = ["| system | version | durability | processes (most in one workload, incl. "
             "driver) | status |",
             "|---|---|---|---|---|"]
    for r in results:
        status = r.status if r.status == "ok" else f"{r.status}: {r.note}"
        procs = str(r.processes) if r.processes else "–"
        lines.append(f"| {r.label} | {r.version or '–'} | {r.durability or '–'} | {procs} | "
                     f"{_cell(status, 300)} |")
    return "\n".join(lines)
