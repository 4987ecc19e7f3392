"""Statistics for the peer benchmarks: percentiles per repetition, medians across them.

Drivers (Python or Node) report raw samples per repetition; every number in the table is
computed here, the same way for every system::

    rep = summarize_rep(RepSamples(latencies_ms=[1.0, 2.0], elapsed_s=0.5, target=2))
    row = combine_reps([rep, ...])      # median throughput, p50 and p99 across repetitions
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


@dataclass
class RepSamples:
    """What a driver measured in one repetition of one workload."""

    latencies_ms: list[float]
    elapsed_s: float
    # Operations asked for; 0 for a workload that runs for a fixed time. Fewer completed
    # than a non-zero target means the time budget ran out first.
    target: int
    errors: int = 0
    first_error: str = ""
    # Operations per second are completed operations over elapsed time, unless the
    # workload defines its own (a broadcast: deliveries over time to the last delivery).
    throughput: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepSamples:
        return cls(
            latencies_ms=[float(x) for x in data.get("latencies_ms", [])],
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            target=int(data.get("target", 0)),
            errors=int(data.get("errors", 0)),
            first_error=str(data.get("first_error", "")),
            throughput=None if data.get("throughput") is None else float(data["throughput"]),
        )


@dataclass
class RepSummary:
    completed: int
    target: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_error: str = ""


def summarize_rep(rep: RepSamples) -> RepSummary | None:
    """Throughput, p50 and p99 of one repetition; ``None`` when nothing completed."""
    if not rep.latencies_ms:
        return None
    completed = len(rep.latencies_ms)
    if rep.throughput is not None:
        throughput = rep.throughput
    else:
        throughput = completed / rep.elapsed_s if rep.elapsed_s > 0 else float("nan")
    return RepSummary(
        completed=completed,
        target=rep.target,
        throughput=throughput,
        p50_ms=percentile(rep.latencies_ms, 50),
        p99_ms=percentile(rep.latencies_ms, 99),
        errors=rep.errors,
        first_error=rep.first_error,
    )


@dataclass
class Measurement:
    """One system on one workload: medians across repetitions, or why there is no number."""

    throughput: float | None = None  # operations per second
    p50_ms: float | None = None
    p99_ms: float | None = None
    reps: int = 0
    completed: int = 0  # operations in the median repetition (or the only one)
    target: int = 0
    errors: int = 0
    status: str = "ok"  # ok | partial | failed | n/a | not-installed | not-measured
    note: str = ""
    rep_details: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0  # start to stop of the system for this workload, setup included

    @property
    def has_numbers(self) -> bool:
        return self.throughput is not None and self.status in ("ok", "partial")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "note": self.note,
            "throughput": self.throughput,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "reps": self.reps,
            "completed": self.completed,
            "target": self.target,
            "errors": self.errors,
            "rep_details": self.rep_details,
            "wall_s": self.wall_s,
        }


def combine_reps(reps: Sequence[RepSamples]) -> Measurement:
    """Medians of throughput, p50 and p99 across the repetitions that completed anything.

    A repetition that stopped short of its target (time budget) or saw errors marks the
    measurement ``partial`` and says so in ``note``; with no completed operation at all it
    is ``failed`` with the first error.
    """
    summaries = [s for s in (summarize_rep(r) for r in reps) if s is not None]
    errors = sum(r.errors for r in reps)
    first_error = next((r.first_error for r in reps if r.first_error), "")
    if not summaries:
        return Measurement(
            status="failed",
            reps=len(reps),
            errors=errors,
            note=first_error or "no operation completed",
        )
    throughputs = [s.throughput for s in summaries]
    mid = sorted(summaries, key=lambda s: s.throughput)[(len(summaries) - 1) // 2]
    m = Measurement(
        throughput=median(throughputs),
        p50_ms=median([s.p50_ms for s in summaries]),
        p99_ms=median([s.p99_ms for s in summaries]),
        reps=len(summaries),
        completed=mid.completed,
        target=mid.target,
        errors=errors,
        rep_details=[
            {
                "completed": s.completed,
                "target": s.target,
                "throughput": s.throughput,
                "p50_ms": s.p50_ms,
                "p99_ms": s.p99_ms,
                "errors": s.errors,
            }
            for s in summaries
        ],
    )
    short = [s for s in summaries if s.target and s.completed < s.target]
    notes = []
    if short:
        notes.append(
            f"stopped at the time budget: {mid.completed} of {mid.target} operations"
        )
    if errors:
        notes.append(f"{errors} errors (first: {first_error})")
    if notes:
        m.status = "partial"
        m.note = "; ".join(notes)
    return m


def ratio(ours: Measurement, theirs: Measurement, metric: str) -> float | None:
    """actorkit ÷ peer for ``metric``; > 1 favours actorkit for throughput, < 1 for latency."""
    if not (ours.has_numbers and theirs.has_numbers):
        return None
    a, b = getattr(ours, metric), getattr(theirs, metric)
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return float(a / b)
