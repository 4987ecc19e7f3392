"""Client-side driver for the Python-reachable systems, run as a subprocess by the harness.

    python -m benchmarks.peers.driver TARGET CONFIG_JSON WORKLOADS [ARGS...]

It prints one line ``RESULT {json}`` with the raw samples of every workload.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from benchmarks.peers.config import BenchConfig
from benchmarks.peers.workloads import run_all


def make_target(kind: str, args: list[str]) -> Any:
    from benchmarks.peers import targets

    if kind == "actorkit":
        return targets.ActorkitTarget(args[0])
    if kind == "restate":
        return targets.RestateTarget(args[0])
    if kind == "ray":
        return targets.RayTarget()
    if kind == "durable-actors":
        return targets.DurableActorsTarget(args[0], args[1])
    raise SystemExit(f"unknown target {kind!r}")


def main(argv: list[str]) -> None:
    kind, cfg_json, only = argv[0], argv[1], argv[2].split(",")
    cfg = BenchConfig.from_json(json.loads(cfg_json))
    result = asyncio.run(run_all(make_target(kind, argv[3:]), cfg, only))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
