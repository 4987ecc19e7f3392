"""The built-in engine: replay a corpus, then seeded random mutations of it, each case under
a hang timeout. Used by ``tests/test_fuzz.py`` and by ``scripts/fuzz`` where atheris (the
coverage-guided engine, ``fuzz.libfuzzer``) is not installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from fuzz.targets import Target

__all__ = ["Failure", "Hang", "Outcome", "corpus_files", "fuzz", "replay", "run_case"]

TOKENS = (
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b":",
    b",",
    b"null",
    b"1e999",
    b"-0",
    b"\\ud800",
    b"\xff",
    b"\x91",
    b"\x81",
    b"\xdc\xff\xff",
    b"\xde\xff\xff",
    b"\xc1",
    b"\xd4\x01",
    b"\xcf" + b"\xff" * 8,
    b'"t":',
    b'"action"',
    b'"init"',
    b'"args":',
    b'"params":',
    b"\xa1t",
    b"\xa6action",
    b"\n\x00\n",
    b"\x00\x00",
    b"9" * 40,
    b"\x00",
)


class Hang(Exception):
    """A case ran past its timeout."""


@dataclass
class Failure:
    data: bytes
    error: str  # the traceback

    @property
    def name(self) -> str:
        return "crash-" + hashlib.sha1(self.data).hexdigest()


@dataclass
class Outcome:
    cases: int = 0
    failures: list[Failure] = field(default_factory=list)


def corpus_files(target: Target) -> list[Path]:
    if not target.corpus.is_dir():
        return []
    return sorted(p for p in target.corpus.iterdir() if p.is_file())


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"the case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(fn: Callable[[bytes], None], data: bytes, timeout: float) -> Failure | None:
    """Run one case; a ``Failure`` if it raised (anything) or hung."""
    try:
        with _deadline(timeout):
            fn(data)
    except BaseException as exc:  # every escape is a finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Failure(data, "".join(traceback.format_exception(exc)))
    return None


def replay(target: Target, timeout: float = 10.0) -> Outcome:
    """Run every corpus file once (a crash found once stays fixed)."""
    fn = target.load()
    out = Outcome()
    for path in corpus_files(target):
        out.cases += 1
        failure = run_case(fn, path.read_bytes(), timeout)
        if failure is not None:
            failure.error = f"{path.name}:\n{failure.error}"
            out.failures.append(failure)
    return out


def mutate(rng: random.Random, data: bytes, pool: list[bytes], max_len: int) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        op = rng.randrange(8)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and buf:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 4 and buf:
            end = min(len(buf), pos + rng.randint(1, 64))
            buf[pos:pos] = buf[pos:end] * rng.randint(1, 8)
        elif op == 5:
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 6 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            buf = buf[:pos] + bytearray(other[cut:])
        else:
            del buf[pos:]
    return bytes(buf[:max_len])


def fuzz(
    target: Target,
    cases: int,
    *,
    seed: int = 0,
    timeout: float = 10.0,
    stop_after: int = 10,
) -> Outcome:
    """Replay the corpus, then mutate it until ``cases`` in all (or ``stop_after`` failures)."""
    out = replay(target, timeout)
    fn = target.load()
    pool = [p.read_bytes() for p in corpus_files(target)] or [b""]
    rng = random.Random(seed)
    seen = {f.name for f in out.failures}
    while out.cases < cases and len(out.failures) < stop_after:
        data = mutate(rng, rng.choice(pool), pool, target.max_len)
        out.cases += 1
        failure = run_case(fn, data, timeout)
        if failure is not None and failure.name not in seen:
            seen.add(failure.name)
            out.failures.append(failure)
    return out
