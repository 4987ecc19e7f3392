"""Several real ``actorkit serve`` processes sharing one PostgreSQL database.

def test_x(cluster: ClusterFactory) -> None:
    nodes = cluster(3)                 # started and healthy
    nodes[0].kill()                    # kill -9
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server_fixtures import ServerProcess, free_port

CLUSTER_APP = "tests/apps/cluster_app.py:registry"
#: A short lease keeps failover tests quick; the node self-fences after 90% of it.
LEASE = 2.0
#: The nodes' inspector is on, behind this token.
INSPECTOR_TOKEN = "cluster-test-token"


class Node(ServerProcess):
    """One cluster node: a server process that can also be paused (SIGSTOP)."""

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


ClusterFactory = Callable[..., list[Node]]


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    """Where the cluster app's nodes log creates, wakes and fired schedules."""
    return tmp_path / "events.log"


@pytest.fixture
def cluster(postgres_url: str, events_file: Path) -> Iterator[ClusterFactory]:
    """Start ``n`` nodes of ``app`` on the test's own PostgreSQL database (in ``region``;
    ``advertise_url`` overrides the URL the nodes tell their peers)."""
    nodes: list[Node] = []

    def make(
        n: int,
        app: str = CLUSTER_APP,
        lease: float = LEASE,
        region: str | None = None,
        advertise_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> list[Node]:
        started = []
        for _ in range(n):
            port = free_port()
            args = ["--advertise-url", advertise_url or f"http://127.0.0.1:{port}"]
            args += ["--lease-seconds", str(lease)]
            if region is not None:
                args += ["--region", region]
            node = Node(
                app,
                postgres_url,
                port=port,
                args=args,
                env={
                    "ACTORKIT_TEST_EVENTS": str(events_file),
                    "ACTORKIT_INSPECTOR_TOKEN": INSPECTOR_TOKEN,
                    **(env or {}),
                },
            )
            nodes.append(node)
            started.append(node.start())
        return started

    yield make
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            node.resume()  # a paused node cannot handle SIGTERM
        node.stop()


def read_events(path: Path) -> list[tuple[str, ...]]:
    """The cluster app's event lines, split: ``(kind, key, pid)``."""
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]


def count(path: Path, kind: str, key: str | None = None) -> int:
    return sum(1 for e in read_events(path) if e[0] == kind and (key is None or e[1] == key))


def pids(nodes: list[Node]) -> set[int]:
    return {n.pid for n in nodes}


__all__ = [
    "CLUSTER_APP",
    "INSPECTOR_TOKEN",
    "LEASE",
    "ClusterFactory",
    "Node",
    "count",
    "pids",
    "read_events",
]
