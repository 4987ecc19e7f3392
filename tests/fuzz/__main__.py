"""``python -m fuzz``: run the targets (see ``scripts/fuzz --help``)."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzz.targets import TARGETS, Target

DEFAULT_CASES = 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="total, split by share")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable")
    parser.add_argument("--timeout", type=int, default=10, help="per-case hang timeout, seconds")
    parser.add_argument("--engine", choices=("atheris", "builtin"), default=None)
    parser.add_argument("--seed", type=int, default=0, help="builtin engine's random seed")
    parser.add_argument("--preload", help="module imported before fuzzing (try a patch)")
    parser.add_argument("--write-seeds", action="store_true", help="(re)write corpus/*/seed-*")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args()
    if args.list:
        for t in TARGETS.values():
            print(f"{t.name:18} {t.share:5.0%}  {t.doc}")
        return 0
    if args.write_seeds:
        write_seeds()
        return 0
    chosen = [TARGETS[n] for n in args.target] if args.target else list(TARGETS.values())
    total_share = sum(t.share for t in chosen)
    engine = args.engine or ("atheris" if importlib.util.find_spec("atheris") else "builtin")
    print(f"engine: {engine}; {args.cases:,} cases over {len(chosen)} target(s)", flush=True)
    rows = []
    for target in chosen:
        cases = max(1, round(args.cases * target.share / total_share))
        start = time.monotonic()
        if engine == "atheris":
            ran, crashes = run_atheris(target, cases, args.timeout, args.preload)
        else:
            ran, crashes = run_builtin(target, cases, args.timeout, args.seed, args.preload)
        size = len(list(target.corpus.glob("*")))
        took = time.monotonic() - start
        rows.append((target.name, ran, crashes, size, took))
        print(
            f"{target.name}: {ran:,} cases, {crashes} crash(es), corpus {size} files, {took:.0f} s",
            flush=True,
        )
    print(f"\n{'target':18} {'cases':>10} {'crashes':>8} {'corpus':>7} {'seconds':>8}")
    for name, ran, crashes, size, took in rows:
        print(f"{name:18} {ran:>10,} {crashes:>8} {size:>7} {took:>8.0f}")
    total_ran = sum(r[1] for r in rows)
    total_crashes = sum(r[2] for r in rows)
    print(f"{'total':18} {total_ran:>10,} {total_crashes:>8}")
    return 1 if total_crashes else 0


def write_seeds() -> None:
    from fuzz.seeds import seeds

    for name, inputs in seeds().items():
        corpus = TARGETS[name].corpus
        corpus.mkdir(parents=True, exist_ok=True)
        for old in corpus.glob("seed-*"):
            old.unlink()
        for data in inputs:
            digest = hashlib.sha1(data).hexdigest()[:16]
            (corpus / f"seed-{digest}").write_bytes(data)
        print(f"{name}: {len(inputs)} seeds")


def run_builtin(
    target: Target, cases: int, timeout: int, seed: int, preload: str | None
) -> tuple[int, int]:
    from fuzz.engine import fuzz

    if preload:
        importlib.import_module(preload)
    outcome = fuzz(target, cases, seed=seed, timeout=timeout)
    for failure in outcome.failures:
        path = target.corpus / failure.name
        if not path.exists():
            path.write_bytes(failure.data)
        print(f"--- {target.name}: {path}\n{failure.error}", file=sys.stderr)
    return outcome.cases, len(outcome.failures)


_DONE = re.compile(rb"Done (\d+) runs")
_PROGRESS = re.compile(rb"^#(\d+)\s", re.M)
_ARTIFACT = re.compile(rb"Test unit written to (\S+)")


def run_atheris(target: Target, cases: int, timeout: int, preload: str | None) -> tuple[int, int]:
    """One libFuzzer process: new inputs go to a scratch dir, then are merged (minimised)
    into the corpus; a crash or hang stops the target and leaves ``crash-*``/``timeout-*``
    in its corpus dir."""
    target.corpus.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target.name}-") as tmp:
        new = Path(tmp) / "new"
        new.mkdir()
        wrapper = Path(tmp) / "run-target"
        extra = f"--preload {shlex.quote(preload)} " if preload else ""
        wrapper.write_text(
            "#!/bin/sh\n"
            f'exec {shlex.quote(sys.executable)} -m fuzz.libfuzzer {target.name} {extra}"$@"\n'
        )
        wrapper.chmod(0o755)
        cmd = [sys.executable, "-m", "fuzz.libfuzzer", target.name, "--argv0", str(wrapper)]
        if preload:
            cmd += ["--preload", preload]
        flags = [
            f"-max_len={target.max_len}",
            f"-timeout={timeout}",
            "-rss_limit_mb=4096",
            f"-artifact_prefix={target.corpus}/",
            "-print_final_stats=1",
            "-keep_seed=1",  # the nasty seeds stay mutation sources, coverage or not
            "-len_control=0",  # long inputs (deep nesting) from the start
        ]
        log = Path(tmp) / "log"
        with log.open("wb") as out:
            proc = subprocess.run(
                [*cmd, *flags, f"-runs={cases}", str(new), str(target.corpus)],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        text = log.read_bytes()
        done = _DONE.search(text)
        progress = _PROGRESS.findall(text)
        ran = int(done.group(1)) if done else int(progress[-1]) if progress else 0
        artifacts = _ARTIFACT.findall(text)
        if proc.returncode != 0 or artifacts:
            keep = Path(os.environ.get("FUZZ_LOG_DIR", tempfile.gettempdir()))
            saved = keep / f"fuzz-{target.name}-{int(time.time())}.log"
            shutil.copy(log, saved)
            print(f"--- {target.name}: exit {proc.returncode}, log {saved}", file=sys.stderr)
            sys.stderr.buffer.write(text[-6000:])
            for artifact in artifacts:
                _drop_duplicate(target, Path(artifact.decode()))
        merge(target, new, cmd)
    crashes = len(artifacts) or (1 if proc.returncode != 0 else 0)
    return ran, crashes


def _drop_duplicate(target: Target, artifact: Path) -> None:
    """A crash on an input already in the corpus needs no second copy: name the original."""
    if not artifact.is_file():
        return
    data = artifact.read_bytes()
    for path in target.corpus.iterdir():
        if path != artifact and path.is_file() and path.read_bytes() == data:
            artifact.unlink()
            print(f"--- {target.name}: the crashing input is {path}", file=sys.stderr)
            return
    print(f"--- {target.name}: reproducer {artifact}", file=sys.stderr)


def merge(target: Target, new: Path, cmd: list[str]) -> None:
    """Add the inputs that found new coverage, minimised by libFuzzer's merge, to the corpus
    (seeds and crash reproducers are kept as they are)."""
    if not any(new.iterdir()):
        return
    with tempfile.TemporaryDirectory(prefix=f"merge-{target.name}-") as tmp:
        merged = Path(tmp)
        subprocess.run(
            [*cmd, "-merge=1", f"-max_len={target.max_len}", str(merged), str(new)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        known = {hashlib.sha1(p.read_bytes()).hexdigest() for p in target.corpus.glob("*")}
        for path in merged.iterdir():
            digest = hashlib.sha1(path.read_bytes()).hexdigest()
            if digest not in known:
                shutil.copy(path, target.corpus / digest)


if __name__ == "__main__":
    sys.exit(main())
