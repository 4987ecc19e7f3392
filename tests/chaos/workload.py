"""The chaos runs' clients and verdicts: random operations on registers and counters,
recorded per actor, each actor's history checked by tests/linearizability.py.

Recording and the meaning of a failed call are the cluster linearizability test's
(``Recorder``, ``classify`` in tests/test_cluster_linearizable.py): an error that says the
call did not run drops it; any other failure (a lost connection, a timeout) is an unknown
outcome, which may take effect at any time after its call. No retries: a client whose call
had an unknown outcome carries on under a new name, as Jepsen's ``:info``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actorkit import ActorHandle
from linearizability import (
    UNKNOWN,
    CheckResult,
    Model,
    Operation,
    Verdict,
    check,
    register_model,
)
from test_cluster_linearizable import Recorder, report

#: The checker gives up on one actor's history after this long (reported as undecided).
CHECK_TIMEOUT = 60.0
#: A client waits between its calls a random time up to this (keeps histories checkable).
PACE = 0.1
#: After a failed call a client backs off, doubling from the first to the last of these.
BACKOFF = (0.05, 1.0)


def _counter_step(state: int, inp: tuple[Any, ...], out: Any) -> tuple[bool, int]:
    if inp[0] == "get":
        return out is UNKNOWN or out == state, state
    if inp[0] == "add":
        new = state + inp[1]
        return out is UNKNOWN or out == new, new
    raise ValueError(f"not a counter operation: {inp!r}")


def _describe_counter(op: Operation) -> str:
    result = "?" if op.unknown else repr(op.output)
    if op.input[0] == "get":
        return f"get() -> {result}"
    return f"add({op.input[1]}) -> {result}"


counter_model: Model[int] = Model(0, _counter_step, describe=_describe_counter)
"""A counter, initially 0: ``("add", n)`` returns the new total, ``("get",)`` the total.
Amounts are random and large, so a total says which additions it contains: an addition
applied twice, lost or invented cannot be explained."""

MODELS: dict[str, Model[Any]] = {"register": register_model, "counter": counter_model}
READS = frozenset({"read", "get"})


@dataclass(frozen=True)
class Target:
    """One actor under test: its history key in the ``Recorder`` is ``f"{kind}/{key}"``."""

    kind: str  # "register" or "counter"
    key: str

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.key}"


def targets(registers: int, counters: int) -> list[Target]:
    return [Target("register", f"r{i}") for i in range(registers)] + [
        Target("counter", f"c{i}") for i in range(counters)
    ]


def next_op(recorder: Recorder, target: Target, rng: random.Random, seen: Any) -> tuple[Any, ...]:
    """A random operation on ``target``; ``seen`` is the last value this client knows."""
    roll = rng.random()
    if target.kind == "counter":
        return ("get",) if roll < 0.3 else ("add", rng.randrange(1, 1 << 30))
    if roll < 0.4:
        return ("read",)
    if roll < 0.7:
        return ("write", recorder.unique(target.name))
    written = recorder.written[target.name]
    stale = rng.choice(written[-20:]) if written and rng.random() < 0.3 else None
    return ("cas", seen if stale is None else stale, recorder.unique(target.name))


async def run_client(
    recorder: Recorder,
    name: str,
    handles: dict[Target, ActorHandle[Any]],
    rng: random.Random,
    stop: Callable[[], bool],
) -> None:
    """One client: random operations on random targets, one at a time, until ``stop()``."""
    generation = 0
    backoff = 0.0
    seen: dict[Target, Any] = dict.fromkeys(handles)
    chosen = list(handles)
    while not stop():
        target = rng.choice(chosen)
        op = next_op(recorder, target, rng, seen[target])
        who = f"{name}.{generation}"
        outcome, output = await recorder.run(who, target.name, handles[target], op)
        if outcome == "ok":
            backoff = 0.0
            if op[0] in ("read", "get", "add"):
                seen[target] = output
            elif op[0] == "write" or output is True:
                seen[target] = op[-1]
            await asyncio.sleep(rng.uniform(0, PACE))
            continue
        if outcome == "info":
            generation += 1  # its call may still take effect: a new client from now on
        backoff = min(BACKOFF[1], max(BACKOFF[0], 2 * backoff))
        await asyncio.sleep(backoff)


@dataclass
class Verdicts:
    """The checker's verdict on each actor's history."""

    operations: int = 0
    unknown: int = 0
    violations: list[str] = field(default_factory=list)  # one explanation per illegal history
    undecided: list[str] = field(default_factory=list)  # the checker ran out of time


def checked_operations(ops: Sequence[Operation]) -> list[Operation]:
    """``ops`` without reads of unknown outcome: they changed nothing and returned nothing,
    so they constrain nothing (and each would double the checker's search)."""
    return [op for op in ops if not (op.unknown and op.input[0] in READS)]


def check_all(recorder: Recorder, kinds: dict[str, str], seed: int, dump: Path | None) -> Verdicts:
    """Check every actor's history with its model; explain and dump any violation."""
    verdicts = Verdicts()
    for key, history in recorder.histories.items():
        ops = history.operations()
        verdicts.operations += len(ops)
        verdicts.unknown += sum(op.unknown for op in ops)
        result = check_history(kinds[key], ops, CHECK_TIMEOUT)
        if result.verdict is Verdict.OK:
            continue
        if result.verdict is Verdict.UNKNOWN:
            verdicts.undecided.append(f"seed {seed} {key}: {result.explanation}")
            continue
        text = f"seed {seed}, {key}: {result.explanation}"
        print(f"VIOLATION {text}", flush=True)
        report(recorder, key, result.stuck)
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            path = dump / f"seed-{seed}-{key.replace('/', '-')}.json"
            path.write_text(json.dumps([_jsonable(op) for op in ops], indent=0))
            text += f"\nhistory in {path}"
        verdicts.violations.append(text)
    return verdicts


def check_history(kind: str, ops: Sequence[Operation], timeout: float) -> CheckResult:
    """Check ``ops`` with ``kind``'s model, trying a reduced history first.

    Each unknown operation may take effect or not, and the search tries both: with many
    unknown operations that never took effect (a request reset before it was forwarded),
    that is exponential. The reduced history keeps only the unknown operations whose
    effect was observed (see ``effective_unknowns``): the others are taken never to have
    happened. That is one of the outcomes allowed to them, so if the reduced history is
    linearizable the full one is too; otherwise the full one decides.
    """
    model = MODELS[kind]
    ops = checked_operations(ops)
    reduced = effective_unknowns(kind, ops)
    if reduced is not None and len(reduced) < len(ops):
        result = check(model, reduced, timeout=timeout / 2)
        if result.verdict is Verdict.OK:
            return result
    return check(model, ops, timeout=timeout)


def effective_unknowns(kind: str, ops: Sequence[Operation]) -> list[Operation] | None:
    """``ops`` without the unknown operations nothing observed (``None``: no guess).

    Register: an unknown write or compare-and-set whose value no read returned and no
    compare-and-set expected. Counter: totals only grow, so the observed totals in order
    leave gaps that are either one acknowledged ``add``'s own amount, or the sum of some
    unknown ones (amounts are large random numbers: the subset that fits is the one).
    """
    if kind == "register":
        seen = {op.output for op in ops if op.input[0] == "read" and not op.unknown}
        seen |= {op.input[1] for op in ops if op.input[0] == "cas"}
        return [op for op in ops if not (op.unknown and op.input[-1] not in seen)]
    known = [op for op in ops if not op.unknown]
    segments = {(op.output - op.input[1], op.output) for op in known if op.input[0] == "add"}
    totals = sorted({0, *(t for seg in segments for t in seg), *(op.output for op in known)})
    pending = [op for op in ops if op.unknown]
    kept: list[Operation] = []
    for low, high in itertools.pairwise(totals):
        if (low, high) in segments:
            continue
        subset = _sum_of(high - low, pending)
        if subset is None:
            return None
        kept += subset
        pending = [op for op in pending if op not in subset]
    return known + kept


def _sum_of(target: int, ops: list[Operation], budget: int = 20_000) -> list[Operation] | None:
    """Some of ``ops`` (additions) whose amounts sum to ``target``, by a bounded search."""
    ops = sorted(ops, key=lambda op: -op.input[1])
    steps = 0

    def search(i: int, left: int) -> list[Operation] | None:
        nonlocal steps
        if left == 0:
            return []
        steps += 1
        if steps > budget:
            return None
        for j in range(i, len(ops)):
            if ops[j].input[1] <= left:
                rest = search(j + 1, left - ops[j].input[1])
                if rest is not None:
                    return [ops[j], *rest]
        return None

    return search(0, target)


def _jsonable(op: Operation) -> dict[str, Any]:
    return {
        "client": str(op.client),
        "input": list(op.input),
        "output": "?" if op.unknown else op.output,
        "call": op.call_time,
        "return": None if op.unknown else op.return_time,
    }
