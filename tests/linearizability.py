"""Linearizability checking for histories recorded by concurrent (chaos) tests.

A history is a set of operations, each with a call time and a return time. It is
*linearizable* for a sequential model if every operation can be given a single instant
between its call and its return such that running the operations one by one, in the order
of those instants, through the model produces exactly the outputs that were observed.

The search is Wing & Gong's, with the improvements of Lowe ("Testing for linearizability",
2017) and Horn & Kroening ("Faster linearizability checking via P-compositionality", 2015):

* **Just-in-time linearization.** Calls and returns are put in one doubly linked list, in
  time order. Walking it from the front, any call met before the first return is a
  candidate to take effect next; meeting a return means that operation should already have
  taken effect, so the search backtracks. Taking an operation unlinks its call and its
  return (dancing links), backtracking relinks them and tries the next candidate.
* **Memoization.** A configuration is the set of operations already linearized (a bitset,
  a Python int) with the model state it led to. Two paths reaching the same configuration
  have the same future, so each configuration is explored at most once.
* **P-compositionality.** A model may split a history into independent parts (a key-value
  store: one part per key); the history is linearizable iff every part is, and small
  parts are exponentially cheaper to check than their union.

An operation whose outcome is unknown (a timeout, a crash: Jepsen's ``:info``) has its
return time at infinity and its output set to ``UNKNOWN``: it may take effect at any
point after its call, including after everything else (which is the same as never).
A model's ``step`` must therefore accept ``UNKNOWN`` as output from any state.

Example::

    history = History()
    h = history.invoke("client-1", ("write", 1))
    history.ok(h, None)
    h = history.invoke("client-2", ("read",))
    history.ok(h, 1)
    assert check(register_model, history.operations()).verdict is Verdict.OK
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

S = TypeVar("S", bound=Hashable)


class _Unknown:
    """The output of an operation whose outcome is unknown."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: ``client`` called it with ``input`` and got ``output`` back.

    Times are any comparable numbers (``time.monotonic_ns()``, event indices). An operation
    whose outcome is unknown has ``return_time = math.inf`` and ``output = UNKNOWN``.
    """

    client: Hashable
    input: Any
    output: Any
    call_time: float
    return_time: float

    @property
    def unknown(self) -> bool:
        return self.output is UNKNOWN


def _whole(ops: Sequence[Operation]) -> list[list[Operation]]:
    return [list(ops)]


def _describe(op: Operation) -> str:
    return f"{op.input!r} -> {op.output!r}"


@dataclass(frozen=True)
class Model(Generic[S]):
    """A sequential specification.

    ``step(state, input, output)`` says whether ``input`` may produce ``output`` in
    ``state`` and returns the state after it; ``output`` may be ``UNKNOWN``, which must be
    accepted. States must be hashable and never mutated (they are memoized).
    ``partition`` splits a history into parts that can be checked independently.
    """

    init: S
    step: Callable[[S, Any, Any], tuple[bool, S]]
    partition: Callable[[Sequence[Operation]], list[list[Operation]]] = _whole
    describe: Callable[[Operation], str] = _describe


# --- Ready-made models ---------------------------------------------------------------------


def _register_step(state: Any, inp: tuple[Any, ...], out: Any) -> tuple[bool, Any]:
    kind = inp[0]
    if kind == "read":
        return out is UNKNOWN or out == state, state
    if kind == "write":
        return True, inp[1]
    if kind == "cas":
        if state == inp[1]:
            return out is UNKNOWN or out is True, inp[2]
        return out is UNKNOWN or out is False, state
    raise ValueError(f"not a register operation: {inp!r}")


def _describe_register(op: Operation) -> str:
    inp, out = op.input, op.output
    result = "?" if out is UNKNOWN else repr(out)
    if inp[0] == "read":
        return f"read() -> {result}"
    if inp[0] == "write":
        return f"write({inp[1]!r})" + (" -> ?" if out is UNKNOWN else "")
    result = {True: "ok", False: "fail"}.get(out, result)
    return f"cas({inp[1]!r}, {inp[2]!r}) -> {result}"


register_model: Final[Model[Any]] = Model(None, _register_step, describe=_describe_register)
"""One register, initially ``None``. Inputs ``("read",)`` (output: the value),
``("write", v)`` (output ignored) and ``("cas", old, new)`` (output: whether it swapped)."""


def _kv_step(state: str, inp: tuple[str, str, str], out: Any) -> tuple[bool, str]:
    kind = inp[0]
    if kind == "get":
        return out is UNKNOWN or out == state, state
    if kind == "put":
        return True, inp[2]
    if kind == "append":
        return True, state + inp[2]
    raise ValueError(f"not a key-value operation: {inp!r}")


def _by_key(ops: Sequence[Operation]) -> list[list[Operation]]:
    parts: dict[str, list[Operation]] = {}
    for op in ops:
        parts.setdefault(op.input[1], []).append(op)
    return list(parts.values())


def _describe_kv(op: Operation) -> str:
    kind, key = op.input[0], op.input[1]
    if kind == "get":
        return f"get({key!r}) -> {'?' if op.unknown else repr(op.output)}"
    return f"{kind}({key!r}, {op.input[2]!r})" + (" -> ?" if op.unknown else "")


kv_model: Final[Model[str]] = Model("", _kv_step, _by_key, _describe_kv)
"""A string key-value store, every key initially ``""``, checked one key at a time.
Inputs ``("get", key)`` (output: the value), ``("put", key, v)``, ``("append", key, v)``."""


# --- The checker ---------------------------------------------------------------------------


class Verdict(enum.Enum):
    OK = "linearizable"
    ILLEGAL = "not linearizable"
    UNKNOWN = "unknown"  # the search ran out of time


@dataclass(frozen=True)
class CheckResult:
    """The verdict; when ``ILLEGAL``, the explanation and the evidence behind it.

    ``prefix`` is the longest sequence of operations (of the failing part) found to be
    linearizable, and ``stuck`` an operation that returned before it could take effect
    after that prefix.
    """

    verdict: Verdict
    explanation: str = ""
    prefix: tuple[Operation, ...] = ()
    stuck: Operation | None = None


class _Timeout(Exception):
    pass


@dataclass
class _Failure:
    prefix: list[Operation] = field(default_factory=list)
    stuck: Operation | None = None
    state: Any = None


def check(model: Model[Any], ops: Sequence[Operation], timeout: float | None = None) -> CheckResult:
    """Is ``ops`` linearizable for ``model``? Gives up with ``UNKNOWN`` after ``timeout`` s."""
    for op in ops:
        if not op.return_time >= op.call_time:
            raise ValueError(f"operation returns before it is called: {op!r}")
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    parts = [part for part in model.partition(ops) if part]
    for part in sorted(parts, key=len):  # a small illegal part is found first
        try:
            failure = _check_part(model, part, deadline)
        except _Timeout:
            return CheckResult(Verdict.UNKNOWN, f"gave up after {timeout} s")
        if failure is not None:
            return _explain(model, part, failure, whole=len(parts) == 1)
    return CheckResult(Verdict.OK)


def _check_part(model: Model[Any], ops: Sequence[Operation], deadline: float) -> _Failure | None:
    n = len(ops)
    # Entries 1..2n in time order (a call before a return at the same time: such operations
    # overlap); 0 is the head of the list and 2n+1 its end.
    events = sorted(
        [(op.call_time, 0, i) for i, op in enumerate(ops)]
        + [(op.return_time, 1, i) for i, op in enumerate(ops)]
    )
    head, end = 0, 2 * n + 1
    is_call = [False] * (end + 1)
    op_at = [0] * (end + 1)
    match = [0] * (end + 1)  # a call's return entry
    call_of = [0] * n
    for position, (_, kind, i) in enumerate(events, start=1):
        op_at[position] = i
        if kind == 0:
            is_call[position] = True
            call_of[i] = position
        else:
            match[call_of[i]] = position
    nxt = list(range(1, end + 2))
    prv = list(range(-1, end))
    inputs = [op.input for op in ops]
    outputs = [op.output for op in ops]
    step = model.step

    state: Any = model.init
    linearized = 0  # bit i set: ops[i] has taken effect
    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = []  # (call entry, state before it)
    failure = _Failure(state=state)
    best = -1
    budget = 0
    entry = nxt[head]
    while entry != end:
        if is_call[entry]:
            i = op_at[entry]
            legal, new_state = step(state, inputs[i], outputs[i])
            if legal:
                key = (linearized | 1 << i, new_state)
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state))
                    state, linearized = new_state, key[0]
                    ret = match[entry]  # lift the operation out of the list
                    nxt[prv[entry]] = nxt[entry]
                    prv[nxt[entry]] = prv[entry]
                    nxt[prv[ret]] = nxt[ret]
                    prv[nxt[ret]] = prv[ret]
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue
        # A return: its operation was not linearized in time on this path.
        if len(stack) > best:
            best = len(stack)
            failure = _Failure([ops[op_at[e]] for e, _ in stack], ops[op_at[entry]], state)
        if not stack:
            return failure
        budget += 1
        if budget & 0xFFF == 0 and time.monotonic() > deadline:
            raise _Timeout
        entry, state = stack.pop()
        linearized &= ~(1 << op_at[entry])
        ret = match[entry]  # put it back, in the reverse order of lifting
        nxt[prv[ret]] = ret
        prv[nxt[ret]] = ret
        nxt[prv[entry]] = entry
        prv[nxt[entry]] = entry
        entry = nxt[entry]
    return None


def _explain(
    model: Model[Any], part: Sequence[Operation], failure: _Failure, whole: bool
) -> CheckResult:
    def show(op: Operation) -> str:
        returned = "never returned" if op.return_time == math.inf else f"{op.return_time}"
        return f"client {op.client!r} {model.describe(op)} [{op.call_time}, {returned}]"

    prefix, stuck = failure.prefix, failure.stuck
    assert stuck is not None
    tail = prefix[-3:]
    lines = [
        f"not linearizable: at most {len(prefix)} of {len(part)} operations"
        f"{'' if whole else ' (of this part of the history)'} can be linearized, ending with:",
        *(f"  {show(op)}" for op in tail),
        f"after which the state is {failure.state!r} and no order lets",
        f"  {show(stuck)}",
        "take effect before it returns",
    ]
    if len(prefix) > len(tail):
        lines.insert(1, f"  ... {len(prefix) - len(tail)} earlier operations")
    return CheckResult(Verdict.ILLEGAL, "\n".join(lines), tuple(prefix), stuck)


# --- Recording ------------------------------------------------------------------------------


class History:
    """Records operations as a test runs them (from asyncio code: no locking needed).

    ``invoke`` before sending a request, then exactly one of ``ok`` (the reply),
    ``fail`` (it certainly had no effect: the operation is dropped) or ``info`` (its
    outcome is unknown: it may take effect at any time after its call). Operations never
    completed count as ``info``. The clock is injectable for tests.
    """

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock = clock
        self._open: dict[int, tuple[Hashable, Any, int]] = {}
        self._done: list[Operation] = []
        self._handles = 0

    def invoke(self, client: Hashable, input: Any) -> int:
        self._handles += 1
        self._open[self._handles] = (client, input, self._clock())
        return self._handles

    def ok(self, handle: int, output: Any) -> None:
        client, input, called = self._open.pop(handle)
        self._done.append(Operation(client, input, output, called, self._clock()))

    def fail(self, handle: int) -> None:
        del self._open[handle]

    def info(self, handle: int) -> None:
        client, input, called = self._open.pop(handle)
        self._done.append(Operation(client, input, UNKNOWN, called, math.inf))

    def operations(self) -> list[Operation]:
        still_open = [
            Operation(client, input, UNKNOWN, called, math.inf)
            for client, input, called in self._open.values()
        ]
        return [*self._done, *still_open]
