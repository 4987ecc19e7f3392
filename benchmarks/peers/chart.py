"""Draw docs/benchmarks.png from benchmarks/results/peers.json (run in the peers' venv).

    python -m benchmarks.peers.chart RESULTS_JSON OUT_PNG
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from benchmarks.peers.config import TITLES, WORKLOADS


def main(src: str, dst: str) -> None:
    with open(src) as f:
        data = json.load(f)
    systems = [(k, s) for k, s in data["systems"].items() if s["status"] == "ok"]
    workloads = [w for w in WORKLOADS
                 if any((s["workloads"].get(w) or {}).get("throughput") for _, s in systems)]
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    width = 0.8 / max(1, len(systems))
    for ax, metric, label in ((axes[0], "throughput", "operations per second (higher is better)"),
                              (axes[1], "p50_ms", "p50 latency, ms (lower is better)")):
        for i, (_, s) in enumerate(systems):
            vals = [(s["workloads"].get(w) or {}).get(metric) or 0 for w in workloads]
            xs = [j + i * width for j in range(len(workloads))]
            ax.bar(xs, vals, width, label=s["label"])
        ax.set_yscale("log")
        ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(workloads))])
        ax.set_xticklabels([TITLES[w].split(". ", 1)[1].replace(", ", ",\n") for w in workloads],
                           fontsize=7, rotation=20, ha="right")
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    m = data["machine"]
    fig.suptitle(f"actorkit and peers, same machine, same run ({data['mode']} mode, "
                 f"{data['date']}, {m['nproc']} cores, shared and noisy)", fontsize=11)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
