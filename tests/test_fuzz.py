"""The fuzz targets' short form: every corpus file replayed (a crash found once stays
fixed), then a few thousand seeded mutations. ``scripts/fuzz`` runs the long form."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from actorkit.protocol.messages import ActionResponse, Error, Welcome
from actorkit.server import encoding
from fuzz import engine
from fuzz.contract import Crash
from fuzz.decoders import http_body_target
from fuzz.known import known_issue
from fuzz.seeds import seeds
from fuzz.server import (
    FRAME_SEP,
    close_harness,
    harness,
    http_route_target,
    ws_session_target,
)
from fuzz.targets import TARGETS

# Cases per target beyond the corpus replay: decoders are microseconds, servers ~1 ms.
SHORT_CASES = {"ws_session": 400, "http_route": 400}
DEFAULT_SHORT_CASES = 1500


@pytest.fixture(autouse=True, scope="module")
def _stop_fuzz_node() -> Iterator[None]:
    yield
    close_harness()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_survives_corpus_and_mutations(name: str) -> None:
    target = TARGETS[name]
    files = engine.corpus_files(target)
    assert files, f"no corpus for {name}: run scripts/fuzz --write-seeds"
    cases = len(files) + SHORT_CASES.get(name, DEFAULT_SHORT_CASES)
    outcome = engine.fuzz(target, cases, seed=14, timeout=30.0, stop_after=50)
    assert outcome.cases == cases or outcome.failures
    unknown = [f for f in outcome.failures if known_issue(f.error) is None]
    assert not unknown, f"{len(unknown)} crash(es) in {name}; first:\n{unknown[0].error}"
    if outcome.failures:
        issues = sorted({known_issue(f.error) for f in outcome.failures})
        pytest.xfail(f"{len(outcome.failures)} known crash(es), fix pending: {issues}")


def test_corpus_holds_every_seed() -> None:
    for name, inputs in seeds().items():
        stored = {p.read_bytes() for p in engine.corpus_files(TARGETS[name])}
        missing = [data[:40] for data in inputs if data not in stored]
        assert not missing, f"{name}: seeds not in the corpus (scripts/fuzz --write-seeds)"


def test_engine_reports_an_escaping_exception_and_a_hang() -> None:
    def broken(data: bytes) -> None:
        if data == b"boom":
            raise KeyError("boom")
        if data == b"hang":
            while True:
                pass

    assert engine.run_case(broken, b"fine", timeout=5.0) is None
    failure = engine.run_case(broken, b"boom", timeout=5.0)
    assert failure is not None and "KeyError" in failure.error
    hang = engine.run_case(broken, b"hang", timeout=0.2)
    assert hang is not None and "Hang" in hang.error


def test_http_body_target_flags_a_decoder_that_breaks_its_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http_body_target(b"\x00" + b'{"args":[1]}')

    def raises(_data: bytes) -> object:
        raise IndexError("decoder bug")

    monkeypatch.setattr(encoding, "_json_decode", raises)
    with pytest.raises(IndexError):
        http_body_target(b"\x00" + b'{"args":[1]}')


def test_ws_session_target_reaches_the_actor() -> None:
    frames = [
        {"t": "init", "params": {"user": "ann"}},
        {"t": "action", "id": 1, "name": "increment", "args": [2]},
        {"t": "action", "id": 2, "name": "nope"},
    ]
    ws_session_target(b"\x00" + FRAME_SEP.join(b"\x01" + msgspec.json.encode(f) for f in frames))
    out = harness().last
    assert isinstance(out[0], Welcome)
    results = {m.id: m for m in out[1:]}
    assert isinstance(results[1], ActionResponse) and isinstance(results[1].output, int)
    assert isinstance(results[2], Error) and results[2].code == "action_not_found"


def test_ws_session_target_accepts_a_refusal_and_flags_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init = b"\x01" + msgspec.json.encode({"t": "init", "params": {"deny": True}})
    ws_session_target(b"\x00" + init)  # refused by on_before_connect: a documented answer
    assert [m.code for m in harness().last if isinstance(m, Error)] == ["forbidden"]

    async def broken_call(*args: object, **kwargs: object) -> object:
        raise RuntimeError("bug in the runtime")

    monkeypatch.setattr(harness().app.state.node.links, "call", broken_call)
    frames = [{"t": "init"}, {"t": "action", "id": 1, "name": "increment", "args": []}]
    with pytest.raises(Crash, match=r"internal_error|logged an error"):
        ws_session_target(
            b"\x00" + FRAME_SEP.join(b"\x01" + msgspec.json.encode(f) for f in frames)
        )


def test_http_route_target_calls_the_action_and_checks_the_reply() -> None:
    body = msgspec.json.encode({"args": [{"a": 1}]})
    http_route_target(bytes([0, 0, 0, 1]) + b"\x00\x00" + body)  # POST .../actions/echo
    assert harness().last == [(200, {"output": {"a": 1}})]
    http_route_target(bytes([0, 4, 0, 1]) + b"\x00\x00" + body)  # as text/plain
    status, reply = harness().last[0]
    assert (status, reply["code"]) == (415, "unsupported_media_type")
