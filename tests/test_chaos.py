"""The short form of ``scripts/chaos``: seeded chaos runs against real ``actorkit serve``
processes (kill -9, SIGSTOP, graceful restarts, network faults through the fault proxy),
single node on SQLite and a cluster on PostgreSQL; every actor's history must be
linearizable. The checker itself is validated first by tests/test_linearizability.py."""

from __future__ import annotations

import math
import random
from pathlib import Path

from chaos.runner import SeedResult, Settings, run_seed
from chaos.workload import check_history, checked_operations, counter_model, effective_unknowns
from linearizability import UNKNOWN, History, Operation, Verdict, check, register_model
from test_cluster_linearizable import stale_read


def assert_sound(result: SeedResult) -> None:
    """Linearizable, served again once the faults ended, and not vacuous."""
    print(result.line())
    print(f"errors: {dict(result.errors)}")
    assert result.verdicts.violations == [], result.verdicts.violations
    assert result.verdicts.undecided == []
    assert result.problems == []
    assert result.calls["ok"] >= Settings().warm_up, result.calls
    assert sum(v for k, v in result.faults.items() if not k.startswith("proxy ")) > 0
    # The final reads came after every fault: each actor was read back through each node.
    assert result.recorder is not None
    finals = {r.key for r in result.recorder.records if str(r.client).startswith("final@")}
    assert finals == set(result.recorder.histories)


def assert_has_teeth(result: SeedResult) -> None:
    """The same histories with one read made stale are rejected."""
    assert result.recorder is not None
    for key, history in result.recorder.histories.items():
        if not key.startswith("register/"):
            continue
        forged, _ = stale_read(checked_operations(history.operations()))
        assert check(register_model, forged, timeout=60).verdict is Verdict.ILLEGAL
        return
    raise AssertionError("no register history")


async def test_chaos_single_node_histories_stay_linearizable(tmp_path: Path) -> None:
    seed = random.randrange(1 << 20)
    print(f"\nseed {seed}")
    result = await run_seed(seed, Settings(seconds=8.0), dump=tmp_path)
    assert_sound(result)
    assert_has_teeth(result)


async def test_chaos_cluster_histories_stay_linearizable(postgres_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 20)
    print(f"\nseed {seed}")
    settings = Settings(seconds=8.0, nodes=2, client_timeout=5.0)
    result = await run_seed(seed, settings, postgres_url, dump=tmp_path)
    assert_sound(result)


def test_counter_model_rejects_a_lost_or_doubled_addition() -> None:
    def history(*steps: tuple[tuple[object, ...], object]) -> list[Operation]:
        clock = iter(range(1000))
        recorded = History(clock=lambda: next(clock))
        for op, output in steps:
            handle = recorded.invoke("c", op)
            if output is UNKNOWN:
                recorded.info(handle)
            else:
                recorded.ok(handle, output)
        return recorded.operations()

    legal = history((("add", 5), 5), (("add", 7), UNKNOWN), (("add", 3), 15), (("get",), 15))
    assert check(counter_model, legal).verdict is Verdict.OK
    # An unknown addition may also never happen.
    never = history((("add", 5), 5), (("add", 7), UNKNOWN), (("get",), 5))
    assert check(counter_model, never).verdict is Verdict.OK
    lost = history((("add", 5), 5), (("add", 7), 12), (("get",), 5))
    doubled = history((("add", 5), 5), (("add", 7), 12), (("get",), 19))
    for bad in (lost, doubled):
        result = check(counter_model, bad)
        assert result.verdict is Verdict.ILLEGAL
        assert "get() -> " in result.explanation


def test_unknown_reads_are_left_out_and_nothing_else() -> None:
    ops = [
        Operation("a", ("read",), UNKNOWN, 0, math.inf),
        Operation("b", ("get",), UNKNOWN, 1, math.inf),
        Operation("c", ("write", 1), UNKNOWN, 2, math.inf),
        Operation("d", ("read",), 1, 3, 4),
    ]
    assert checked_operations(ops) == ops[2:]


def counter_history(rng: random.Random, lose: bool = False) -> tuple[list[Operation], set[int]]:
    """Sequential adds through a flaky network: 40 unknown additions that never ran, 5 that
    ran (their totals seen by the next call), acknowledged ones between. ``lose``: one
    acknowledged addition is missing from every later total."""
    ops: list[Operation] = []
    total, t, ran = 0, 0, set()
    for i in range(120):
        amount = rng.randrange(1, 1 << 30)
        if i % 3 == 0:
            ops.append(Operation(f"u{i}", ("add", amount), UNKNOWN, t, math.inf))
            if i % 24 == 0:  # it did run: the next total includes it
                total += amount
                ran.add(amount)
        else:
            total += amount
            shown = total - ops[10].input[1] if lose and i > 40 and not ops[10].unknown else total
            ops.append(Operation(f"c{i}", ("add", amount), shown, t, t + 1))
        t += 2
    return ops, ran


def test_check_history_keeps_only_unknown_additions_that_took_effect() -> None:
    ops, ran = counter_history(random.Random(3))
    reduced = effective_unknowns("counter", ops)
    assert reduced is not None
    assert {op.input[1] for op in reduced if op.unknown} == ran
    assert check_history("counter", ops, timeout=60).verdict is Verdict.OK


def test_check_history_still_finds_a_lost_acknowledged_addition() -> None:
    ops, _ = counter_history(random.Random(3), lose=True)
    assert check_history("counter", ops, timeout=60).verdict is Verdict.ILLEGAL


def test_check_history_drops_unobserved_unknown_writes_only() -> None:
    ops = [
        Operation("a", ("write", 1), None, 0, 1),
        Operation("b", ("write", 2), UNKNOWN, 2, math.inf),  # read back: kept
        Operation("c", ("write", 3), UNKNOWN, 2, math.inf),  # never seen: dropped
        Operation("d", ("cas", 9, 4), UNKNOWN, 2, math.inf),  # never seen: dropped
        Operation("e", ("read",), 2, 5, 6),
    ]
    assert effective_unknowns("register", ops) == [ops[0], ops[1], ops[4]]
    assert check_history("register", ops, timeout=60).verdict is Verdict.OK
    stale = [*ops, Operation("f", ("read",), 1, 7, 8)]
    assert check_history("register", stale, timeout=60).verdict is Verdict.ILLEGAL
