"""The five workloads, driven from Python against any ``Target`` (one per system).

``benchmarks/peers/rivet/bench.mjs`` is the same code in JavaScript for RivetKit, whose
client is a Node library. Both report raw samples per repetition (see ``stats.RepSamples``)
and the harness computes every statistic the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from benchmarks.peers.config import BenchConfig

Call = Callable[[int], Awaitable[Any]]


class Connection(Protocol):
    async def increment(self, amount: int) -> Any: ...
    async def close(self) -> None: ...


class Target(Protocol):
    """One system under test, seen from its own client library."""

    name: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def handle(self, key: str, *, sleepy: bool = False) -> Call:
        """Get-or-create the counter ``key``; return its ``increment(amount)``."""
        ...

    async def create_and_call(self, key: str) -> Any:
        """Create the fresh counter ``key`` and call ``increment(1)`` on it."""
        ...

    # Optional capabilities: None means the system has no such thing (reported as n/a).
    connect: Callable[[str, Callable[[Any], None] | None], Awaitable[Connection]] | None
    sleeps: bool


def _now() -> float:
    return time.perf_counter()


def _rep(latencies: list[float], elapsed: float, target: int, errors: list[str]) -> dict[str, Any]:
    return {
        "latencies_ms": latencies,
        "elapsed_s": elapsed,
        "target": target,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


async def _timed_sequence(call: Call, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    start = _now()
    while _now() - start < seconds:
        t = _now()
        try:
            await call(1)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            if len(errors) > 20:
                break
            continue
        latencies.append((_now() - t) * 1000)
    return _rep(latencies, _now() - start, 0, errors)


async def sequential(call: Call, cfg: BenchConfig) -> list[dict[str, Any]]:
    for _ in range(cfg.warmup_calls):
        await call(1)
    return [await _timed_sequence(call, cfg.rep_seconds) for _ in range(cfg.reps)]


async def warm_actors(target: Target, keys: list[str], cfg: BenchConfig,
                      sleepy: bool = False) -> list[Call]:
    """Create and call each actor once, ``callers`` at a time, retrying a failure once,
    within the setup budget (``connect_budget_s``)."""
    calls: dict[int, Call] = {}
    errors: list[str] = []
    sem = asyncio.Semaphore(cfg.callers)

    start = _now()

    async def one(i: int) -> None:
        async with sem:
            for _ in range(2):
                if _now() - start > cfg.connect_budget_s:
                    errors.append(f"setup budget of {cfg.connect_budget_s:.0f} s spent")
                    return
                try:
                    call = await target.handle(keys[i], sleepy=sleepy)
                    await call(1)
                    calls[i] = call
                    return
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])

    await asyncio.gather(*(one(i) for i in range(len(keys))))
    if len(calls) < len(keys):
        raise RuntimeError(f"warm-up: {len(keys) - len(calls)} of {len(keys)} actors could "
                           f"not be created (first error: {errors[0]})")
    return [calls[i] for i in range(len(keys))]


async def concurrent(target: Target, cfg: BenchConfig) -> list[dict[str, Any]]:
    calls = await warm_actors(target, [f"{cfg.run_id}-conc-{i}" for i in range(cfg.actors)], cfg)
    return [await _concurrent_rep(calls, cfg) for _ in range(cfg.reps)]


async def _concurrent_rep(calls: list[Call], cfg: BenchConfig) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    counter = 0
    start = _now()

    async def worker() -> None:
        nonlocal counter
        while _now() - start < cfg.rep_seconds and len(errors) <= 20:
            call = calls[counter % len(calls)]
            counter += 1
            t = _now()
            try:
                await call(1)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            latencies.append((_now() - t) * 1000)

    await asyncio.gather(*(worker() for _ in range(cfg.callers)))
    return _rep(latencies, _now() - start, 0, errors)


async def fresh(target: Target, cfg: BenchConfig) -> list[dict[str, Any]]:
    """One repetition: ``fresh_n`` new actors, ``callers`` at a time, within the budget."""
    for i in range(min(20, cfg.warmup_calls)):
        with contextlib.suppress(Exception):  # warm-up only; the measured run counts errors
            await target.create_and_call(f"{cfg.run_id}-fresh-warm-{i}")
    latencies: list[float] = []
    errors: list[str] = []
    next_index = 0
    start = _now()

    async def worker() -> None:
        nonlocal next_index
        while next_index < cfg.fresh_n and _now() - start < cfg.fresh_budget_s:
            i = next_index
            next_index += 1
            t = _now()
            try:
                await target.create_and_call(f"{cfg.run_id}-fresh-{i}")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                if len(errors) > 50:
                    return
                continue
            latencies.append((_now() - t) * 1000)

    await asyncio.gather(*(worker() for _ in range(cfg.callers)))
    return [_rep(latencies, _now() - start, cfg.fresh_n, errors)]


async def broadcast(target: Target, cfg: BenchConfig) -> list[dict[str, Any]]:
    """``clients`` connections to one actor; time from the call to each delivery."""
    assert target.connect is not None
    key = f"{cfg.run_id}-bcast"
    trigger = await target.handle(key)
    await trigger(0)
    received: dict[int, float] = {}
    expected = {"value": -1}
    done = asyncio.Event()

    def on_event(index: int) -> Callable[[Any], None]:
        def cb(value: Any) -> None:
            if value == expected["value"] and index not in received:
                received[index] = _now()
                if len(received) == cfg.clients:
                    done.set()

        return cb

    conns: list[Connection] = []
    start = _now()
    try:
        batch = 16  # open a few at a time, each confirmed live by a call before the next
        for first in range(0, cfg.clients, batch):
            if _now() - start > cfg.connect_budget_s:
                raise TimeoutError(f"connected only {first} of {cfg.clients} clients "
                                   f"in {cfg.connect_budget_s:.0f} s")
            opened = await asyncio.gather(*(target.connect(key, on_event(i))
                                            for i in range(first, min(cfg.clients, first + batch))))
            conns.extend(opened)
            left = max(0.1, cfg.connect_budget_s - (_now() - start))
            try:
                await asyncio.wait_for(asyncio.gather(*(c.increment(0) for c in opened)), left)
            except TimeoutError:
                raise TimeoutError(f"connected only {first} of {cfg.clients} clients in "
                                   f"{cfg.connect_budget_s:.0f} s") from None
        reps = []
        for rep in range(cfg.broadcasts + 1):  # the first one is a warm-up
            expected["value"] = -1  # nothing matches while the current value is read
            received.clear()
            done.clear()
            value = await trigger(0)
            expected["value"] = int(value) + 1
            t0 = _now()
            await trigger(1)
            try:
                await asyncio.wait_for(done.wait(), 30)
                errors: list[str] = []
            except TimeoutError:
                errors = [f"{cfg.clients - len(received)} clients got no event in 30 s"]
            if rep == 0:
                continue
            lat = sorted((t - t0) * 1000 for t in received.values())
            elapsed = (max(received.values()) - t0) if received else 0.0
            r = _rep(lat, elapsed, cfg.clients, errors)
            r["throughput"] = len(lat) / elapsed if elapsed > 0 else None
            reps.append(r)
        return reps
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(c.close() for c in conns), return_exceptions=True), 10)


async def cold_wake(target: Target, cfg: BenchConfig) -> list[dict[str, Any]]:
    """Wake ``wakes`` sleepy counters (idle timeout ``sleep_timeout_s``) one at a time."""
    latencies: list[float] = []
    errors: list[str] = []
    keys = [f"{cfg.run_id}-sleepy-{i}" for i in range(cfg.wakes)]
    calls = await warm_actors(target, keys, cfg, sleepy=True)
    await asyncio.sleep(cfg.sleep_wait_s)
    start = _now()
    for c in calls:
        t = _now()
        try:
            await c(1)
            latencies.append((_now() - t) * 1000)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
    # Throughput here is wakes per second of wake latency, not wall time (which is mostly
    # the wait for the actors to fall asleep).
    r = _rep(latencies, sum(latencies) / 1000, cfg.wakes, errors)
    del start
    return [r]


async def run_all(target: Target, cfg: BenchConfig, only: list[str]) -> dict[str, Any]:
    """Run the workloads in ``only`` that ``target`` supports; never raise."""
    out: dict[str, Any] = {}
    await target.open()
    try:
        skip: dict[str, tuple[str, str]] = getattr(target, "skip", {})
        for name in only:
            if name in skip:
                out[name] = {"status": skip[name][0], "note": skip[name][1]}
                continue
            try:
                if name == "w1_http":
                    call = await target.handle(f"{cfg.run_id}-seq")
                    out[name] = {"reps": await sequential(call, cfg)}
                elif name == "w1_ws":
                    if target.connect is None:
                        out[name] = {"status": "n/a", "note": "no WebSocket actor calls"}
                        continue
                    conn = await target.connect(f"{cfg.run_id}-seq-ws", None)
                    try:
                        out[name] = {"reps": await sequential(conn.increment, cfg)}
                    finally:
                        await conn.close()
                elif name == "w2_concurrent":
                    out[name] = {"reps": await concurrent(target, cfg)}
                elif name == "w3_fresh":
                    out[name] = {"reps": await fresh(target, cfg)}
                elif name == "w4_broadcast":
                    if target.connect is None:
                        out[name] = {"status": "n/a", "note": "no events to connected clients"}
                        continue
                    out[name] = {"reps": await broadcast(target, cfg)}
                elif name == "w5_cold_wake":
                    if not target.sleeps:
                        out[name] = {"status": "n/a", "note": "actors do not sleep"}
                        continue
                    out[name] = {"reps": await cold_wake(target, cfg)}
            except Exception as exc:
                out[name] = {"status": "failed", "note": f"{type(exc).__name__}: {exc}"[:500]}
    finally:
        await target.close()
    return out
