"""``benchmarks/blocking.py`` runs and reports its four rows (smoke test, no timings checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import blocking


async def test_dx_run_blocking_benchmark_quick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "RESULTS", tmp_path)
    rows = await blocking.main(quick=True)
    assert [r["name"] for r in rows] == [
        "sync action, on the loop (baseline)",
        "sync action, blocking=True",
        "other actor, beside a 20 ms plain block",
        "other actor, beside a 20 ms blocking=True block",
    ]
    assert all(r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] for r in rows)
    assert json.loads((tmp_path / "blocking.json").read_text())["rows"] == rows
