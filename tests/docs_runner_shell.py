"""Runs the docs' shell blocks with bash against a real server of the page's app.

A block is split into steps (a command with its ``\\`` continuation lines). A step's output
is shown in the docs as a comment ``# → OUTPUT``, on its own line after the command or at
the end of the command's line; the step's output must then match it, where ``…`` stands
for anything (so ``{"actor_id":"…","name":"counter"}`` checks the fields it shows). Every
step must exit with status 0 (the block runs under ``set -euo pipefail``).

A step that starts a server (``actorkit dev|serve APP``, ``python FILE.py``,
``./scripts/demo [chat]``) is not run a second time: it must name the app of the page's
``docs-test`` directive, whose server the runner has started that way (see
``docs_runner.py``). The client commands (``actorkit call``, ``actorkit actors``, …: all but
``dev``, ``serve`` and ``storage``) get the server's ``--url``, their default being the
documented ``http://127.0.0.1:6420``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from docs_runner import ROOT, Block, Server, at_address
from server_fixtures import free_port

VENV_BIN = Path(sys.executable).parent
MARK = "@@docs-step-end@@"
EXPECT = re.compile(r"(?:^|\s)# → (.*)$")
DEMO = {"": "examples/counter/app.py", "chat": "examples/chat/app.py"}


@dataclass
class Step:
    command: str
    expected: str | None = None

    @property
    def starts_server(self) -> bool:
        return served_file(self.command, Path(".")) is not None


def steps_of(code: str) -> list[Step]:
    steps: list[Step] = []
    lines: list[str] = []
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("# →") and not lines:
            assert steps, f"an output line before any command: {line!r}"
            steps[-1].expected = stripped.removeprefix("# →").strip()
            continue
        if not lines and (not stripped or stripped.startswith("#")):
            continue
        lines.append(line)
        if not line.endswith("\\"):
            command = "\n".join(lines)
            found = EXPECT.search(command)
            expected = found.group(1).strip() if found else None
            steps.append(Step(command, expected))
            lines = []
    assert not lines, f"a command ends with a continuation: {lines!r}"
    return steps


def served_file(command: str, workdir: Path) -> Path | None:
    """The app file a server-starting command serves, or None for any other command."""
    first = command.split("\n", 1)[0].split(" #", 1)[0].rstrip("\\ ")
    if not first.startswith(("actorkit ", "python", "./scripts/demo")):
        return None
    try:
        words = shlex.split(first)
    except ValueError:
        return None
    if len(words) >= 3 and words[0] == "actorkit" and words[1] in ("dev", "serve"):
        target = words[2].split(":", 1)[0]
        if not target.endswith(".py"):
            target = target.replace(".", "/") + ".py"
        return (workdir / target).resolve()
    if len(words) >= 2 and words[0] in ("python", "python3") and words[1].endswith(".py"):
        return (workdir / words[1]).resolve()
    if words and words[0] == "./scripts/demo":
        return (workdir / DEMO[words[1] if len(words) > 1 else ""]).resolve()
    return None


def matches(expected: str, output: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, output.strip(), re.DOTALL) is not None


class DocsServer:
    """The server a ``docs-test`` directive asks for, in a fresh working directory."""

    def __init__(self, spec: Server, workdir: Path) -> None:
        self.spec = spec
        self.workdir = workdir
        workdir.mkdir(parents=True)
        (workdir / "examples").symlink_to(ROOT / "examples")
        for name, target in spec.links.items():
            (workdir / name).symlink_to(ROOT / target)
        self.app = served_file(spec.command, workdir)
        assert self.app is not None, f"docs-test server= is not a server command: {spec.command}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        argv = shlex.split(spec.command)
        if argv[0] == "actorkit":
            argv[0] = str(VENV_BIN / "actorkit")
            if argv[1] == "dev":
                argv.append("--no-reload")  # nothing to reload; keeps the test's files out
        elif argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*argv, "--port", str(self.port)],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.spec.command} exited:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
        raise AssertionError(f"{self.spec.command} did not become healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def bash_script(steps: list[Step], server: DocsServer | None) -> str:
    lines = ["set -euo pipefail", f'export PATH="{VENV_BIN}:$PATH"']
    if server is not None:
        lines.append(
            'actorkit() { case "${1:-}" in ""|-*|dev|serve|storage) command actorkit "$@" ;; '
            f'*) command actorkit "$1" --url {server.url} "${{@:2}}" ;; esac; }}'
        )
    for step in steps:
        if not step.starts_server:
            command = at_address(step.command, server.port) if server else step.command
            lines.append(command)
        lines.append(f"echo; echo {MARK}")
    return "\n".join(lines) + "\n"


def run_shell(block: Block, server: DocsServer | None, workdir: Path) -> int:
    """Run one shell block; returns the number of steps checked against shown output."""
    steps = steps_of(block.code)
    assert steps, f"{block.name}: a shell block without commands"
    for step in steps:
        if step.starts_server:
            assert server is not None, f"{block.name}: starts a server but no docs-test directive"
            assert served_file(step.command, workdir) == server.app, (
                f"{block.name}: `{step.command}` serves another app than the page's "
                f"docs-test directive ({server.spec.command})"
            )
    proc = subprocess.run(
        ["bash", "-c", bash_script(steps, server)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = proc.stdout.split(MARK + "\n")
    done = len(outputs) - 1
    if proc.returncode != 0:
        failed = steps[done].command if done < len(steps) else "?"
        raise AssertionError(
            f"{block.name} (line {block.line}): `{failed}` exited with {proc.returncode}:\n"
            f"{outputs[-1]}\n{proc.stderr}"
            + (f"\nserver log:\n{server.output()}" if server else "")
        )
    assert done == len(steps), f"{block.name}: ran {done} of {len(steps)} steps"
    checked = 0
    for step, output in zip(steps, outputs, strict=False):
        if step.expected is not None:
            assert matches(step.expected, output), (
                f"{block.name}: `{step.command}` printed {output.strip()!r}, "
                f"the docs show {step.expected!r}"
            )
            checked += 1
    return checked
