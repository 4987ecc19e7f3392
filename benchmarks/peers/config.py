"""Workload sizes for a full run and a ``--quick`` smoke run, shared by every driver."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

WORKLOADS = ("w1_http", "w1_ws", "w2_concurrent", "w3_fresh", "w4_broadcast", "w5_cold_wake")

TITLES = {
    "w1_http": "1. sequential increments, one actor, HTTP",
    "w1_ws": "1. sequential increments, one actor, WebSocket",
    "w2_concurrent": "2. 32 concurrent callers over 100 actors",
    "w3_fresh": "3. create-and-call fresh actors",
    "w4_broadcast": "4. one broadcast to connected clients",
    "w5_cold_wake": "5. cold wake of a sleeping actor",
}


@dataclass
class BenchConfig:
    """Sizes and budgets. Workloads 1 and 2 run for ``rep_seconds`` per repetition."""

    reps: int = 3
    rep_seconds: float = 5.0
    warmup_calls: int = 100
    callers: int = 32
    actors: int = 100
    fresh_n: int = 10_000
    fresh_budget_s: float = 30.0
    clients: int = 1_000
    connect_budget_s: float = 60.0
    broadcasts: int = 3
    wakes: int = 8
    sleep_timeout_s: float = 0.5  # the sleepy counter's idle timeout, on every peer
    sleep_wait_s: float = 2.0  # how long the harness waits for it to fall asleep
    run_id: str = "run"

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(
            reps=2,
            rep_seconds=2.0,
            warmup_calls=30,
            fresh_n=300,
            fresh_budget_s=20.0,
            clients=200,
            connect_budget_s=30.0,
            broadcasts=2,
            wakes=3,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchConfig:
        return cls(**data)
