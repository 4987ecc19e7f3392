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
    workloads: dict[str, Measurement] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "version": self.version,
            "durability": self.durability,
            "status": self.status,
            "note": self.note,
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
    return f"{x:.{max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))}f}"


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{fmt_num(r)}×"


def table(results: list[SystemResult]) -> str:
    """One markdown table: per workload, actorkit first, then each peer with ratios."""
    ours = next((r for r in results if r.key == OURS), None)
    head = ("| workload | system | ops/s | p50 ms | p99 ms | ops/s ratio | p50 ratio | "
            "p99 ratio | note |")
    lines = [head, "|" + "---|" * 9]
    for w in WORKLOADS:
        for res in results:
            m = res.workloads.get(w)
            if m is None:
                if res.status == "ok":
                    continue
                m = Measurement(status=res.status, note=res.note)
            if ours is not None and res is not ours and w in ours.workloads:
                o = ours.workloads[w]
                ratios = [ratio(o, m, "throughput"), ratio(o, m, "p50_ms"), ratio(o, m, "p99_ms")]
            else:
                ratios = [None, None, None]
            note = m.note if m.status in ("ok", "partial") else f"{m.status}: {m.note}"
            note = note.replace("|", "/").replace("\n", " ")
            if len(note) > 160:
                note = note[:157] + "..."
            lines.append(
                f"| {TITLES[w]} | {res.label} | {fmt_num(m.throughput)} | {fmt_num(m.p50_ms)} | "
                f"{fmt_num(m.p99_ms)} | {' | '.join(fmt_ratio(r) for r in ratios)} | {note} |"
            )
    return "\n".join(lines)


def systems_table(results: list[SystemResult]) -> str:
    lines = ["| system | version | durability | status |", "|---|---|---|---|"]
    for r in results:
        status = r.status if r.status == "ok" else f"{r.status}: {r.note}"
        status = status.replace("|", "/").replace("\n", " ")[:300]
        lines.append(f"| {r.label} | {r.version or '–'} | {r.durability} | {status} |")
    return "\n".join(lines)
