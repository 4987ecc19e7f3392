"""Start the processes of a system under test and kill every one of them by PID.

Each process is started in a new session. Whatever it spawns (RivetKit's engine binary,
Ray's raylet and workers, durable-actors' per-actor hosts) is found by walking ``/proc``
for descendants and session members, snapshotted while the parents are alive, and
killed by PID at the end — even when the run failed::

    with ProcessSet(log_dir) as procs:
        procs.spawn("engine", ["node", "server.mjs"], env=env)
        ...
    # every PID seen is gone here
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, session id, start time) of ``pid``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[3]), int(fields[19])


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


class ProcessSet:
    """The processes one system under test runs; ``kill_all`` ends them by PID."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.roots: list[subprocess.Popen[bytes]] = []
        self.seen: dict[int, int] = {}  # pid -> start time (guards against PID reuse)

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            argv,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.roots.append(proc)
        self.snapshot()
        return proc

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def snapshot(self) -> list[int]:
        """Record every live descendant or session member of the processes started here."""
        root_pids = {p.pid for p in self.roots}
        table: dict[int, tuple[int, int, int]] = {}
        for pid in _all_pids():
            st = _stat(pid)
            if st is not None:
                table[pid] = st
        members = {pid for pid in root_pids if pid in table}
        members |= {p for p, t in self.seen.items() if p in table and table[p][2] == t}
        members |= {pid for pid, (_, sid, _) in table.items() if sid in root_pids}
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, _) in table.items():
                if ppid in members and pid not in members:
                    members.add(pid)
                    changed = True
        for pid in members:
            start = table[pid][2]
            if self.seen.get(pid, start) == start:
                self.seen[pid] = start
        return sorted(members)

    def alive(self) -> list[int]:
        out = []
        for pid, start in self.seen.items():
            st = _stat(pid)
            if st is not None and st[2] == start and not _is_zombie(pid):
                out.append(pid)
        return out

    def kill_all(self, grace: float = 3.0) -> list[int]:
        """SIGTERM every process seen, SIGKILL what is left after ``grace``; return leftovers."""
        self.snapshot()
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            for pid in self.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                for p in self.roots:
                    p.poll()
                self.snapshot()
                if not self.alive():
                    break
                time.sleep(0.1)
        for p in self.roots:
            p.poll()
        return self.alive()

    def __enter__(self) -> ProcessSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill_all()


def _is_zombie(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return raw[raw.rindex(")") + 2] == "Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on port {port} within {timeout:.0f} s")
