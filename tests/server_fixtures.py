"""Real server processes for tests: ``python -m actorkit serve APP --port N --storage URL``.

Reusable by any test file (fixtures are re-exported by conftest.py):

    def test_x(actor_server: ServerProcess) -> None:
        httpx.get(actor_server.url + "/health")

    def test_y(server_factory) -> None:
        server = server_factory("tests/apps/counter_app.py:registry", storage="memory://")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
COUNTER_APP = "tests/apps/counter_app.py:registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One ``actorkit serve`` subprocess on a free port; restartable on the same port."""

    def __init__(
        self,
        app: str,
        storage: str,
        *,
        port: int | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        command: str = "serve",
    ) -> None:
        self.app = app
        self.command = command  # "serve", or "dev" (pass args=["--no-reload"])
        self.storage = storage
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"actorkit-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "actorkit", self.command, self.app, "--port", str(self.port)]
        cmd += ["--storage", self.storage, *self.args]
        if self.command == "serve":
            cmd += ["--log-level", "warning"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Graceful stop (SIGTERM): actors sleep, storage closes."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks run."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers (default: the counter app on a fresh SQLite dir); all stop at teardown."""
    servers: list[ServerProcess] = []

    def make(app: str = COUNTER_APP, storage: str | None = None, **kw: object) -> ServerProcess:
        url = storage or f"sqlite:///{tmp_path / f'data{len(servers)}'}"
        server = ServerProcess(app, url, **kw)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def actor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The counter app served on SQLite, shared by a test module."""
    data = tmp_path_factory.mktemp("server") / "data"
    server = ServerProcess(COUNTER_APP, f"sqlite:///{data}").start()
    yield server
    server.stop()
