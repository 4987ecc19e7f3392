"""Chaos with a verdict: "one actor runs in one place at a time" and "nothing acknowledged
is lost", checked by the linearizability checker (tests/linearizability.py).

Clients, each bound to one node of a three-node cluster, run random reads, writes and
compare-and-sets on two registers while a chaos task kills (``kill -9``), freezes
(``SIGSTOP``) and gracefully restarts the nodes that own them. Every call is recorded, and
each register's history must be linearizable: a stale read from a frozen or fenced owner,
a lost or doubled acknowledged write, or two live copies of one actor make it illegal.

How a failed call is recorded is what the protocol promises about it (docs/protocol.md):
an error that says the call did not run (``NO_EFFECT``, ``node_unavailable`` without
``outcome: "unknown"``, a connection that was never made) drops the operation; any other
failure (a lost connection, a timeout, ``node_unavailable`` with ``outcome: "unknown"``,
a 500) may or may not have taken effect, and the client carries on under a new id, as
Jepsen's ``:info``. A promise the cluster breaks shows up as an illegal history.

The second test runs the same workload and recorder against an actor in two places at
once (two in-process nodes with their own storage): the checker must reject that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import httpx

from actorkit import ActorError, ActorHandle, AsyncClient
from actorkit.errors import Code
from apps.register_app import registry as register_registry
from cluster_fixtures import LEASE, ClusterFactory, Node
from linearizability import History, Operation, Verdict, check, register_model

REGISTER_APP = "tests/apps/register_app.py:registry"
KEYS = ("r1", "r2")
#: Clients per test run; each is bound to one node (round-robin, so every node has some).
CLIENTS = 8
#: A client's own HTTP timeout: a frozen owner holds a forwarded call for about a lease
#: (plus a second) before the forwarding node answers ``outcome: "unknown"``, and a client
#: bound to the frozen node waits for the whole pause.
CLIENT_TIMEOUT = 5 * LEASE
#: Bounds the history, so the checker's search stays small.
MAX_OPS_PER_CLIENT = 1000
#: The checker gives up (verdict UNKNOWN, a failure) after this long per register.
CHECK_TIMEOUT = 30.0
#: How many calls around an illegal history's stuck operation are printed.
REPORTED = 40
#: Generous liveness bound for finding an owner and the final reads.
BOUND = LEASE + 30.0

#: Errors that say the call did not run at all, so it is dropped from the history.
NO_EFFECT = frozenset(
    {
        Code.OWNERSHIP_LOST,  # the turn was fenced: nothing it did was committed
        Code.ACTOR_OWNED_ELSEWHERE,  # refused before running: the actor lives elsewhere
        Code.ACTOR_STOPPING,  # refused before its turn: the actor or node shuts down
        Code.OVERLOADED,  # refused before its turn: too many calls queued
        Code.VALIDATION_ERROR,
        Code.INVALID_REQUEST,
    }
)
#: Client-side failures where the request never reached a server.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def classify(err: ActorError) -> str:
    """``"fail"`` when ``err`` guarantees the call had no effect, else ``"info"``."""
    if err.code == Code.NODE_UNAVAILABLE:
        metadata = err.metadata if isinstance(err.metadata, dict) else {}
        return "info" if metadata.get("outcome") == "unknown" else "fail"
    if err.code == Code.CONNECTION_LOST:
        return "fail" if isinstance(err.__cause__, NOT_SENT) else "info"
    return "fail" if err.code in NO_EFFECT else "info"


# --- Recording ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One call as the test saw it (for the report; the checker gets ``History``'s)."""

    client: Hashable
    key: str
    input: tuple[Any, ...]
    outcome: str  # "ok", "fail" or "info"
    output: Any
    detail: str  # the error code, or the exception, of a call that failed
    message: str  # the error's message
    start: int
    end: int


class Recorder:
    """One ``History`` per register, plus everything the report needs."""

    def __init__(self, keys: tuple[str, ...] = KEYS) -> None:
        self.keys = keys
        self.histories = {key: History() for key in keys}
        self.records: list[Record] = []
        self.in_flight = 0
        self.t0 = time.monotonic_ns()
        self._values = itertools.count(1)
        self.written: dict[str, list[int]] = {key: [] for key in keys}

    def unique(self, key: str) -> int:
        value = next(self._values)
        self.written[key].append(value)
        return value

    async def run(
        self, client: Hashable, key: str, handle: ActorHandle[Any], op: tuple[Any, ...]
    ) -> tuple[str, Any]:
        """Call ``op`` on ``handle`` and record it; returns ``(outcome, output)``."""
        history = self.histories[key]
        handle_id = history.invoke(client, op)
        start = time.monotonic_ns()
        self.in_flight += 1
        output: Any = None
        detail = message = ""
        try:
            output = await handle.action(op[0], *op[1:])
            outcome = "ok"
        except ActorError as err:
            outcome, detail, message = classify(err), err.code, err.message
        except Exception as exc:  # outside the client's contract: the outcome is unknown
            outcome, detail, message = "info", type(exc).__name__, str(exc)
        finally:
            self.in_flight -= 1
        if outcome == "ok":
            history.ok(handle_id, output)
        elif outcome == "fail":
            history.fail(handle_id)
        else:
            history.info(handle_id)
        end = time.monotonic_ns()
        self.records.append(Record(client, key, op, outcome, output, detail, message, start, end))
        return outcome, output

    def seconds(self, t: float) -> str:
        return "never" if t == float("inf") else f"{(t - self.t0) / 1e9:.3f}"


async def run_client(
    recorder: Recorder,
    name: str,
    handles: dict[str, ActorHandle[Any]],
    rng: random.Random,
    stop: Callable[[], bool],
    max_ops: int = MAX_OPS_PER_CLIENT,
) -> None:
    """Random reads, writes of unique values and compare-and-sets, one at a time."""
    generation = 0
    seen: dict[str, Any] = dict.fromkeys(handles)  # the last value this client knows of
    for _ in range(max_ops):
        if stop():
            return
        key = rng.choice(list(handles))
        roll = rng.random()
        op: tuple[Any, ...]
        if roll < 0.4:
            op = ("read",)
        elif roll < 0.7:
            op = ("write", recorder.unique(key))
        else:
            written = recorder.written[key]
            stale = rng.choice(written[-20:]) if written and rng.random() < 0.3 else None
            expected = seen[key] if stale is None else stale
            op = ("cas", expected, recorder.unique(key))
        outcome, output = await recorder.run(f"{name}.{generation}", key, handles[key], op)
        if outcome == "ok":
            if op[0] == "read":
                seen[key] = output
            elif op[0] == "write" or output is True:
                seen[key] = op[-1]
            await asyncio.sleep(0)
        else:
            if outcome == "info":
                generation += 1  # its call may still take effect: a new client from now on
            await asyncio.sleep(0.05)


# --- The verdict ----------------------------------------------------------------------------


def stale_read(ops: list[Operation], after: float = 0) -> tuple[list[Operation], Operation]:
    """A copy of ``ops`` where the first read called after ``after`` that follows two
    acknowledged writes in real time returns the older one's value instead: a stale read
    no linearization can explain (values are unique)."""
    writes = sorted(
        (o for o in ops if o.input[0] == "write" and not o.unknown), key=lambda o: o.call_time
    )
    reads = sorted(
        (o for o in ops if o.input[0] == "read" and not o.unknown and o.call_time > after),
        key=lambda o: o.call_time,
    )
    for read in reads:
        done = [w for w in writes if w.return_time < read.call_time]
        if not done:
            continue
        newer = max(done, key=lambda w: w.return_time)
        older = [w for w in done if w.return_time < newer.call_time]
        if older:
            forged = dataclasses.replace(read, output=older[-1].input[1])
            return [forged if o is read else o for o in ops], forged
    raise AssertionError("no read follows two acknowledged writes")


def report(recorder: Recorder, key: str, stuck: Operation | None) -> None:
    """The calls around an illegal history's stuck operation, with their errors."""
    if stuck is None:
        return
    calls = [r for r in recorder.records if r.key == key]
    calls.sort(key=lambda r: abs(r.start - stuck.call_time))
    print(f"the {REPORTED} calls on {key} nearest the stuck operation (seconds since start):")
    for r in sorted(calls[:REPORTED], key=lambda r: r.start):
        shown = repr(r.output) if r.outcome == "ok" else f"{r.detail} ({r.message})"
        print(
            f"  {recorder.seconds(r.start)}-{recorder.seconds(r.end)} {r.client} "
            f"{r.input!r} {r.outcome} {shown}"
        )


def verdicts(recorder: Recorder) -> dict[str, Verdict]:
    results = {}
    for key, history in recorder.histories.items():
        ops = history.operations()
        started = time.monotonic()
        result = check(register_model, ops, timeout=CHECK_TIMEOUT)
        took = time.monotonic() - started
        unknown = sum(o.unknown for o in ops)
        verdict = result.verdict.value
        print(f"{key}: {len(ops)} operations ({unknown} unknown): {verdict} in {took:.2f} s")
        if result.verdict is not Verdict.OK:
            print(result.explanation)
            report(recorder, key, result.stuck)
        results[key] = result.verdict
    return results


# --- The chaos test -------------------------------------------------------------------------


@dataclass
class Event:
    at: int
    what: str
    in_flight: int


async def owner_of(nodes: list[Node], admins: dict[int, AsyncClient], key: str) -> Node:
    """The node whose process runs ``key`` (asked through any node that answers)."""
    deadline = time.monotonic() + BOUND
    while True:
        for node in nodes:
            if not node.alive:
                continue
            try:
                pid = await asyncio.wait_for(admins[node.port].get("register", key).pid(), 5)
            except (ActorError, TimeoutError):
                continue
            for owner in nodes:
                if owner.alive and owner.pid == pid:
                    return owner
        assert time.monotonic() < deadline, f"no node answers for {key}"
        await asyncio.sleep(0.1)


async def test_register_stays_linearizable_through_kills_pauses_and_restarts(
    cluster: ClusterFactory,
) -> None:
    nodes = cluster(3, app=REGISTER_APP)
    seed = random.randrange(1 << 32)
    print(f"\nseed {seed}; nodes {[n.port for n in nodes]}; lease {LEASE} s")
    rng = random.Random(seed)
    recorder = Recorder()
    admins = {n.port: AsyncClient(n.url, timeout=5.0) for n in nodes}
    callers = {n.port: AsyncClient(n.url, timeout=CLIENT_TIMEOUT) for n in nodes}
    events: list[Event] = []
    stop = False
    started = time.monotonic()

    def event(what: str) -> None:
        events.append(Event(time.monotonic_ns(), what, recorder.in_flight))
        print(f"{recorder.seconds(events[-1].at)} s: {what} ({recorder.in_flight} calls in flight)")

    async def chaos() -> None:
        await asyncio.sleep(2.0)
        victim = await owner_of(nodes, admins, "r1")
        victim.kill()
        event(f"kill -9 {victim.port}, owner of r1")
        await asyncio.sleep(LEASE + 0.5)
        await asyncio.to_thread(victim.start)
        event(f"{victim.port} restarted")
        await asyncio.sleep(1.0)
        frozen = await owner_of(nodes, admins, "r2")
        frozen.pause()
        event(f"SIGSTOP {frozen.port}, owner of r2")
        await asyncio.sleep(1.5 * LEASE)
        frozen.resume()
        event(f"SIGCONT {frozen.port}")
        await asyncio.sleep(1.5)
        # About one lease: whether the others take over races the frozen node's self-fence.
        frozen = await owner_of(nodes, admins, "r1")
        frozen.pause()
        event(f"SIGSTOP {frozen.port}, owner of r1")
        await asyncio.sleep(rng.uniform(0.8, 1.2) * LEASE)
        frozen.resume()
        event(f"SIGCONT {frozen.port}")
        await asyncio.sleep(1.5)
        moved = await owner_of(nodes, admins, "r1")
        event(f"graceful restart of {moved.port}, owner of r1")
        await asyncio.to_thread(moved.restart)
        event(f"{moved.port} back")
        await asyncio.sleep(1.0)
        victim = await owner_of(nodes, admins, "r2")
        victim.kill()
        event(f"kill -9 {victim.port}, owner of r2")
        await asyncio.sleep(LEASE + 0.5)
        await asyncio.to_thread(victim.start)
        event(f"{victim.port} restarted")
        await asyncio.sleep(1.5)

    workers: list[asyncio.Future[None]] = []
    try:
        # Create both registers before the clock starts; each client resolves its own.
        for key in KEYS:
            await admins[nodes[0].port].get_or_create("register", key).resolve()
        for i in range(CLIENTS):
            node = nodes[i % len(nodes)]
            client = callers[node.port]
            handles: dict[str, ActorHandle[Any]] = {}
            for key in KEYS:
                handles[key] = client.get("register", key)
                await handles[key].resolve()
            worker = run_client(
                recorder, f"c{i}@{node.port}", handles, random.Random(rng.random()), lambda: stop
            )
            workers.append(asyncio.ensure_future(worker))
        await chaos()
        stop = True
        await asyncio.wait_for(asyncio.gather(*workers), CLIENT_TIMEOUT + 5)
        # Every node serves the last acknowledged value of each register.
        for node in nodes:
            for key in KEYS:
                handle = callers[node.port].get("register", key)
                deadline = time.monotonic() + BOUND
                while (await recorder.run(f"final@{node.port}", key, handle, ("read",)))[0] != "ok":
                    assert time.monotonic() < deadline, f"{node.port} cannot read {key}"
                    await asyncio.sleep(0.1)
    finally:
        stop = True
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for client in [*admins.values(), *callers.values()]:
            await client.aclose()
    ran = time.monotonic() - started

    outcomes = Counter(r.outcome for r in recorder.records)
    errors = Counter((r.outcome, r.detail) for r in recorder.records if r.outcome != "ok")
    print(
        f"{len(recorder.records)} calls in {ran:.1f} s: {outcomes['ok']} ok, "
        f"{outcomes['fail']} failed (no effect), {outcomes['info']} unknown"
    )
    for (outcome, detail), n in sorted(errors.items()):
        print(f"  {outcome}: {detail} × {n}")
    served = Counter(
        str(r.client).split("@")[1].split(".")[0] for r in recorder.records if r.outcome == "ok"
    )
    print(f"acknowledged through each node: {dict(sorted(served.items()))}")
    ok = [r for r in recorder.records if r.outcome == "ok"]
    for label, calls in (("slowest call", recorder.records), ("slowest acknowledged", ok)):
        r = max(calls, key=lambda r: r.end - r.start)
        print(
            f"{label}: {r.client} {r.key} {r.input!r} {r.outcome} {r.detail} "
            f"{(r.end - r.start) / 1e9:.2f} s, from {recorder.seconds(r.start)} s"
        )

    results = verdicts(recorder)
    assert all(v is Verdict.OK for v in results.values()), results

    # Not vacuous: real traffic, real chaos under it, and both kinds of answers exercised.
    assert len(ok) >= 100, outcomes
    assert any(r.input[0] == "read" and r.output is not None for r in ok)
    assert any(r.input[0] == "cas" and r.output is True for r in ok)
    assert len(events) >= 8 and any(e.in_flight > 0 for e in events), events
    assert outcomes["fail"] + outcomes["info"] > 0, "the chaos disturbed no call"
    last_event = events[-1].at
    assert any(r.start > last_event for r in ok), "no call succeeded after the chaos"

    # The same history with one read made stale must be rejected (the check has teeth).
    for key, history in recorder.histories.items():
        forged, read = stale_read(history.operations(), after=events[0].at)
        result = check(register_model, forged, timeout=CHECK_TIMEOUT)
        at = recorder.seconds(read.call_time)
        print(f"{key} with a stale read made up at {at} s: {result.verdict.value}")
        assert result.verdict is Verdict.ILLEGAL


# --- The checker catches a split brain -------------------------------------------------------


async def _workload(clients: list[AsyncClient], seed: int) -> Recorder:
    recorder = Recorder()
    rng = random.Random(seed)
    workers = []
    for i in range(6):
        client = clients[i % len(clients)]
        handles = {key: client.get_or_create("register", key) for key in KEYS}
        workers.append(
            run_client(recorder, f"c{i}", handles, random.Random(rng.random()), lambda: False, 60)
        )
    await asyncio.gather(*workers)
    # Then, one call at a time: a fresh value written through the first client, read
    # through the last. Wherever the register lives once, the read must see it.
    for key in KEYS:
        await recorder.run("probe-w", key, clients[0].get("register", key), ("write", -1))
        await recorder.run("probe-r", key, clients[-1].get("register", key), ("read",))
    return recorder


async def test_checker_rejects_a_register_in_two_places() -> None:
    """Two in-process nodes with their own memory storage each run "the" register: the
    split brain the cluster must never have. The same workload and recorder as the chaos
    test, ending in a write through one node read through the other, give an illegal
    history; one node alone gives a legal one."""
    async with register_registry.test_client() as one:
        alone = await _workload([one], seed=1)
    assert all(v is Verdict.OK for v in verdicts(alone).values())
    async with register_registry.test_client() as a, register_registry.test_client() as b:
        split = await _workload([a, b], seed=1)
    assert all(v is Verdict.ILLEGAL for v in verdicts(split).values())
