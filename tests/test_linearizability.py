"""The linearizability checker (tests/linearizability.py): small histories that show what it
accepts and rejects, then every history of a known corpus, whose verdicts it must match.

The corpus (Porcupine's test data: Jepsen's etcd runs and a key-value store) is not part of
the project: it lives in ``shared/linearizability/`` beside the checkout, and a missing
corpus fails these tests rather than skipping them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linearizability import (
    UNKNOWN,
    History,
    Model,
    Operation,
    Verdict,
    check,
    kv_model,
    register_model,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "linearizability"

# --- Small histories -----------------------------------------------------------------------


def op(
    client: str, input: tuple[object, ...], output: object, call: float, ret: float
) -> Operation:
    return Operation(client, input, output, call, ret)


@pytest.mark.parametrize(
    ("state", "input", "output", "expected"),
    [
        (None, ("read",), None, (True, None)),
        (None, ("read",), 0, (False, None)),
        (1, ("read",), UNKNOWN, (True, 1)),
        (1, ("write", 2), None, (True, 2)),
        (1, ("write", 2), UNKNOWN, (True, 2)),
        (1, ("cas", 1, 2), True, (True, 2)),
        (1, ("cas", 1, 2), False, (False, 2)),
        (1, ("cas", 1, 2), UNKNOWN, (True, 2)),
        (3, ("cas", 1, 2), False, (True, 3)),
        (3, ("cas", 1, 2), True, (False, 3)),
        (3, ("cas", 1, 2), UNKNOWN, (True, 3)),
        (None, ("cas", None, 2), True, (True, 2)),
    ],
)
def test_register_model_steps(
    state: object, input: tuple[object, ...], output: object, expected: tuple[bool, object]
) -> None:
    assert register_model.step(state, input, output) == expected


@pytest.mark.parametrize(
    ("state", "input", "output", "expected"),
    [
        ("", ("get", "k"), "", (True, "")),
        ("ab", ("get", "k"), "a", (False, "ab")),
        ("ab", ("get", "k"), UNKNOWN, (True, "ab")),
        ("ab", ("put", "k", "c"), None, (True, "c")),
        ("ab", ("append", "k", "c"), None, (True, "abc")),
        ("ab", ("append", "k", "c"), UNKNOWN, (True, "abc")),
    ],
)
def test_kv_model_steps(
    state: str, input: tuple[str, ...], output: object, expected: tuple[bool, str]
) -> None:
    assert kv_model.step(state, input, output) == expected


def test_sequential_history_is_linearizable() -> None:
    ops = [
        op("a", ("write", 1), None, 0, 1),
        op("b", ("read",), 1, 2, 3),
        op("a", ("cas", 1, 2), True, 4, 5),
        op("b", ("cas", 1, 3), False, 6, 7),
        op("b", ("read",), 2, 8, 9),
    ]
    assert check(register_model, ops).verdict is Verdict.OK


def test_unset_register_reads_none() -> None:
    assert check(register_model, [op("a", ("read",), None, 0, 1)]).verdict is Verdict.OK
    assert check(register_model, [op("a", ("read",), 0, 0, 1)]).verdict is Verdict.ILLEGAL


def test_stale_read_is_not_linearizable() -> None:
    # b reads 1 after a's write of 2 has returned: the write cannot be placed after the read.
    ops = [
        op("a", ("write", 1), None, 0, 1),
        op("a", ("write", 2), None, 2, 3),
        op("b", ("read",), 1, 4, 5),
    ]
    result = check(register_model, ops)
    assert result.verdict is Verdict.ILLEGAL
    assert result.prefix == (ops[0], ops[1])
    assert result.stuck == ops[2]
    assert "client 'b' read() -> 1 [4, 5]" in result.explanation


def test_concurrent_operations_take_the_one_order_that_works() -> None:
    # The writes overlap each other and the first read; the reads pin the order 2 then 1,
    # the opposite of the order of the calls.
    ops = [
        op("a", ("write", 1), None, 0, 10),
        op("b", ("write", 2), None, 1, 10),
        op("c", ("read",), 2, 2, 5),
        op("c", ("read",), 1, 11, 12),
    ]
    assert check(register_model, ops).verdict is Verdict.OK
    # Reading 1 then 2 afterwards needs both orders at once.
    ops.append(op("d", ("read",), 2, 13, 14))
    assert check(register_model, ops).verdict is Verdict.ILLEGAL


def test_unknown_write_may_take_effect_late_or_never() -> None:
    # a's write timed out; b sees the old value, then the new one, long after the timeout.
    timed_out = op("a", ("write", 1), UNKNOWN, 0, math.inf)
    reads = [op("b", ("read",), None, 5, 6), op("b", ("read",), 1, 100, 101)]
    assert check(register_model, [timed_out, *reads]).verdict is Verdict.OK
    assert check(register_model, [timed_out, reads[0]]).verdict is Verdict.OK  # never
    # But once seen, it cannot be undone.
    going_back = op("b", ("read",), None, 200, 201)
    assert check(register_model, [timed_out, *reads, going_back]).verdict is Verdict.ILLEGAL


def test_unknown_cas_need_not_apply() -> None:
    timed_out = op("a", ("cas", None, 1), UNKNOWN, 0, math.inf)
    assert check(register_model, [timed_out, op("b", ("read",), None, 5, 6)]).verdict is (
        Verdict.OK
    )


def test_kv_keys_are_checked_apart() -> None:
    ops = [
        op("a", ("append", "x", "1"), None, 0, 10),
        op("b", ("append", "x", "2"), None, 0, 10),
        op("c", ("put", "y", "5"), None, 0, 1),
        op("c", ("get", "x"), "21", 11, 12),
        op("c", ("get", "y"), "5", 13, 14),
    ]
    assert check(kv_model, ops).verdict is Verdict.OK
    ops.append(op("d", ("get", "y"), "", 15, 16))
    result = check(kv_model, ops)
    assert result.verdict is Verdict.ILLEGAL
    assert "get('y') -> ''" in result.explanation


def test_timeout_gives_unknown() -> None:
    # Many overlapping writes, then an impossible read: exhaustive search is hopeless.
    ops = [op(str(i), ("write", i), None, 0, 1000) for i in range(40)]
    ops.append(op("r", ("read",), -1, 999, 1001))
    assert check(register_model, ops, timeout=0.05).verdict is Verdict.UNKNOWN


def test_history_records_calls_and_replies() -> None:
    ticks = iter(range(100))
    history = History(clock=lambda: next(ticks))
    w = history.invoke("a", ("write", 1))  # t=0
    r = history.invoke("b", ("read",))  # t=1
    history.ok(w, None)  # t=2
    history.ok(r, 1)  # t=3
    lost = history.invoke("a", ("write", 2))  # t=4
    history.fail(lost)
    late = history.invoke("a", ("write", 3))  # t=5
    history.info(late)
    history.invoke("c", ("read",))  # t=6, never completed
    assert history.operations() == [
        Operation("a", ("write", 1), None, 0, 2),
        Operation("b", ("read",), 1, 1, 3),
        Operation("a", ("write", 3), UNKNOWN, 5, math.inf),
        Operation("c", ("read",), UNKNOWN, 6, math.inf),
    ]
    assert check(register_model, history.operations()).verdict is Verdict.OK


# --- Against brute force ------------------------------------------------------------------

REGISTER_INPUTS: st.SearchStrategy[tuple[Any, ...]] = st.one_of(
    st.just(("read",)),
    st.tuples(st.just("write"), st.integers(0, 2)),
    st.tuples(st.just("cas"), st.sampled_from([None, 0, 1, 2]), st.integers(0, 2)),
)


FATES = ["ok", "ok", "ok", "ok", "unknown", "lost", "corrupt"]


@st.composite
def register_histories(draw: st.DrawFn) -> list[Operation]:
    """Up to 8 operations run against a register, each at a random instant of its interval;
    some outcomes are then unknown (``lost`` ones never took effect), some outputs wrong."""
    count = draw(st.integers(1, 8))
    inputs = [draw(REGISTER_INPUTS) for _ in range(count)]
    spans = [(draw(st.integers(0, 12)), draw(st.integers(0, 6))) for _ in range(count)]
    fates = [draw(st.sampled_from(FATES)) for _ in range(count)]
    instants = [call + draw(st.integers(0, length)) for call, length in spans]
    state: object = None
    outputs: list[object] = [None] * count
    for i in sorted(range(count), key=instants.__getitem__):
        if fates[i] != "lost":
            if inputs[i][0] == "read":
                outputs[i] = state
            elif inputs[i][0] == "cas":
                outputs[i] = inputs[i][1] == state
            _, state = register_model.step(state, inputs[i], UNKNOWN)
    ops = []
    for i, (input, (call, length), fate) in enumerate(zip(inputs, spans, fates, strict=True)):
        output = outputs[i]
        if fate in ("unknown", "lost"):
            ops.append(Operation(i, input, UNKNOWN, call, math.inf))
            continue
        if fate == "corrupt" and input[0] == "read":
            output = draw(st.sampled_from([None, 0, 1, 2]))  # may happen to be right
        elif fate == "corrupt" and input[0] == "cas":
            output = not output
        ops.append(Operation(i, input, output, call, call + length))
    return ops


def linearizable_by_brute_force(state: object, ops: list[Operation]) -> bool:
    """Try every order that respects real time: the definition, without any cleverness."""
    if not ops:
        return True
    for i, candidate in enumerate(ops):
        if any(other.return_time < candidate.call_time for other in ops):
            continue  # that other operation must take effect first
        legal, after = register_model.step(state, candidate.input, candidate.output)
        if legal and linearizable_by_brute_force(after, ops[:i] + ops[i + 1 :]):
            return True
    return False


@settings(max_examples=400, deadline=None, database=None)
@given(register_histories())
def test_checker_agrees_with_brute_force(ops: list[Operation]) -> None:
    expected = Verdict.OK if linearizable_by_brute_force(None, ops) else Verdict.ILLEGAL
    assert check(register_model, ops).verdict is expected


# --- The corpus ----------------------------------------------------------------------------

VERDICTS = {"linearizable": Verdict.OK, "not-linearizable": Verdict.ILLEGAL}
JEPSEN_LINE = re.compile(r"jepsen\.util - (\d+)\s+:(invoke|ok|fail|info)\s+:(\w+)\s+(.*?)\s*$")
KV_LINE = re.compile(
    r'\{:process (\d+), :type :(invoke|ok), :f :(get|put|append), :key "([^"]*)", '
    r':value (nil|"[^"]*")\}$'
)


def parse_jepsen(text: str) -> list[Operation]:
    """A Jepsen etcd log as register operations, timed by line number.

    ``:fail`` certainly had no effect (a ``:cas`` whose expected value did not match, a read
    that timed out): the operation is dropped. ``:info`` leaves it open for ever (unknown
    outcome), and its process may carry on as a new client.
    """
    ops: list[Operation] = []
    open_calls: dict[str, tuple[str, tuple[object, ...], int]] = {}
    generation: dict[str, int] = {}
    for t, line in enumerate(text.splitlines()):
        found = JEPSEN_LINE.search(line)
        assert found, f"line {t + 1}: {line!r}"
        process, event, f, value = found.groups()
        if event == "invoke":
            assert process not in open_calls, f"line {t + 1}: {process} is busy"
            gen = generation.get(process, 0)
            client = process if gen == 0 else f"{process}#{gen}"
            open_calls[process] = (client, jepsen_input(f, value), t)
            continue
        client, input, called = open_calls.pop(process)
        if event == "fail":
            continue  # certainly no effect: as if never called
        if event == "info":
            generation[process] = generation.get(process, 0) + 1
            ops.append(Operation(client, input, UNKNOWN, called, math.inf))
        elif f == "read":
            ops.append(Operation(client, input, None if value == "nil" else int(value), called, t))
        else:  # a write, or a cas that swapped
            ops.append(Operation(client, input, True if f == "cas" else None, called, t))
    ops += [Operation(c, i, UNKNOWN, t, math.inf) for c, i, t in open_calls.values()]
    return ops


def jepsen_input(f: str, value: str) -> tuple[object, ...]:
    if f == "read":
        return ("read",)
    if f == "write":
        return ("write", int(value))
    old, new = value.strip("[]").split()
    return ("cas", int(old), int(new))


def parse_kv(text: str) -> list[Operation]:
    """One EDN map per line; an operation without ``:ok`` stays open."""
    ops: list[Operation] = []
    open_calls: dict[str, tuple[tuple[object, ...], int]] = {}
    for t, line in enumerate(text.splitlines()):
        found = KV_LINE.match(line)
        assert found, f"line {t + 1}: {line!r}"
        process, event, f, key, raw = found.groups()
        value = None if raw == "nil" else raw[1:-1]
        if event == "invoke":
            assert process not in open_calls, f"line {t + 1}: {process} is busy"
            open_calls[process] = ((f, key) if f == "get" else (f, key, value), t)
        else:
            input, called = open_calls.pop(process)
            ops.append(Operation(process, input, value if f == "get" else None, called, t))
    ops += [Operation(p, i, UNKNOWN, t, math.inf) for p, (i, t) in open_calls.items()]
    return ops


def expected_verdicts(folder: str) -> dict[Path, Verdict]:
    directory = CORPUS / folder
    if not directory.is_dir():
        pytest.fail(
            f"linearizability corpus missing: {directory} (a copy of shared/ must sit "
            "beside the checkout)"
        )
    rows = (line.split("\t") for line in (directory / "expected.tsv").read_text().splitlines())
    expected = {directory / name: VERDICTS[verdict] for name, verdict in rows}
    histories = set(directory.iterdir()) - {directory / "expected.tsv"}
    assert histories == set(expected), "expected.tsv and the histories present differ"
    return expected


@pytest.mark.parametrize(
    ("folder", "parse", "model"),
    [("jepsen-etcd", parse_jepsen, register_model), ("kv", parse_kv, kv_model)],
)
def test_corpus_verdicts_match(
    folder: str, parse: Callable[[str], list[Operation]], model: Model[Any]
) -> None:
    expected = expected_verdicts(folder)
    wrong = []
    for path, verdict in sorted(expected.items()):
        result = check(model, parse(path.read_text()), timeout=10)
        if result.verdict is not verdict:
            wrong.append(f"{path.name}: {result.verdict.value}, expected {verdict.value}")
    assert not wrong, "\n".join(wrong)
