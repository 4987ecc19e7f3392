"""How to start, drive and stop each system under test.

Every ``run_*`` function starts the system's processes in a ``ProcessSet`` (killed by PID
on the way out, whatever happens), runs a driver subprocess that prints ``RESULT {json}``,
and returns the raw per-workload results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers.config import BenchConfig
from benchmarks.peers.install import Installed, venv_python
from benchmarks.peers.procs import ProcessSet, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@dataclass
class System:
    """One column of the table: a system, configured one way."""

    key: str
    label: str
    needs: list[str]  # install names
    durability: str
    runner: Callable[[RunContext], dict[str, Any]]
    workloads: list[str] | None = None  # None: all
    skip_note: str = ""  # why the workloads outside ``workloads`` are not run
    # workload -> (status, why): what the system has no such thing for ("n/a"), or what
    # this harness does not drive on it ("not-measured").
    unsupported: dict[str, tuple[str, str]] = field(default_factory=dict)
    env_changes: dict[str, str | None] = field(default_factory=dict)


@dataclass
class RunContext:
    cfg: BenchConfig
    installed: dict[str, Installed]
    cache: Path
    work: Path  # a fresh temporary directory for this system's data and logs
    only: list[str]
    system: System
    leftovers: list[int] = field(default_factory=list)
    processes: int = 0  # how many processes the system and its driver ran (all seen)


def _finish(ctx: RunContext, procs: ProcessSet) -> None:
    ctx.leftovers += procs.kill_all()
    ctx.processes = max(ctx.processes, len(procs.seen))


def _env(changes: dict[str, str | None] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for k, v in (changes or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _drive(ctx: RunContext, procs: ProcessSet, argv: list[str], env: dict[str, str],
           timeout: float) -> dict[str, Any]:
    """Run a driver to completion; its processes join ``procs`` so they are killed too."""
    proc = procs.spawn("driver", argv, env=env, cwd=REPO)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        procs.snapshot()
        time.sleep(0.5)
    if proc.poll() is None:
        raise TimeoutError(f"driver did not finish within {timeout:.0f} s")
    log = (procs.log_dir / "driver.log").read_text(errors="replace")
    for line in reversed(log.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT "):]))
    raise RuntimeError(f"driver exited {proc.returncode} without a result: "
                       + " | ".join(log.splitlines()[-5:])[-500:])


def driver_timeout(cfg: BenchConfig, n_workloads: int) -> float:
    """A backstop only: every workload bounds its own setup and measurement."""
    per = cfg.reps * cfg.rep_seconds * 2 + cfg.fresh_budget_s + cfg.connect_budget_s + 60
    return per * max(1, n_workloads)


def _py_driver(ctx: RunContext, procs: ProcessSet, kind: str, args: list[str]) -> dict[str, Any]:
    """Every Python driver runs in the peers' venv, with the same client libraries."""
    env = _env({"PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}"})
    argv = [str(venv_python(ctx.cache)), "-m", "benchmarks.peers.driver", kind,
            json.dumps(ctx.cfg.to_json()), ",".join(ctx.only), *args]
    return _drive(ctx, procs, argv, env, driver_timeout(ctx.cfg, len(ctx.only)))


def _http_ok(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy within {timeout:.0f} s ({last})")


# -- actorkit ------------------------------------------------------------------------------


def run_actorkit(ctx: RunContext) -> dict[str, Any]:
    port = free_port()
    with ProcessSet(ctx.work / "logs") as procs:
        try:
            server = procs.spawn(
                "server",
                [sys.executable, "-m", "actorkit", "serve",
                 "benchmarks.peers.actorkit_app:registry",
                 "--host", "127.0.0.1", "--port", str(port),
                 "--storage", f"sqlite:///{ctx.work / 'data'}"],
                env=_env({**ctx.system.env_changes, "PYTHONPATH": str(REPO)}), cwd=REPO,
            )
            wait_for_port(port, 60, server)
            return _py_driver(ctx, procs, "actorkit", [f"http://127.0.0.1:{port}"])
        except Exception as exc:
            raise RuntimeError(f"{exc} | server log: {procs.log_tail('server', 6)}") from exc
        finally:
            _finish(ctx, procs)


# -- RivetKit ------------------------------------------------------------------------------


def _rivet(ctx: RunContext, install: str, mode: str) -> dict[str, Any]:
    prefix = ctx.installed[install].path
    assert prefix is not None
    port = free_port()
    app = ctx.work / "app"
    app.mkdir()
    for name in ("server.mjs", "bench.mjs"):
        shutil.copy(HERE / "rivet" / name, app / name)
    (app / "node_modules").symlink_to(prefix / "node_modules")
    home = ctx.work / "home"  # the engine keeps its database under $HOME/.rivetkit
    home.mkdir()
    env = _env({**ctx.system.env_changes, "RK_PORT": str(port), "RK_MODE": mode,
                "RK_SLEEP_MS": str(int(ctx.cfg.sleep_timeout_s * 1000)), "HOME": str(home),
                "RIVETKIT_STORAGE_PATH": str(ctx.work / "data")})
    with ProcessSet(ctx.work / "logs") as procs:
        try:
            server = procs.spawn("server", ["node", "server.mjs"], env=env, cwd=app)
            wait_for_port(port, 90, server)
            time.sleep(2.0)  # the runner registers with the engine after it listens
            procs.snapshot()
            argv = ["node", "bench.mjs", f"http://127.0.0.1:{port}",
                    json.dumps(ctx.cfg.to_json()), ",".join(ctx.only)]
            proc = procs.spawn("driver", argv, env=env, cwd=app)
            return _wait_node_driver(ctx, procs, proc)
        except Exception as exc:
            raise RuntimeError(f"{exc} | server log: {procs.log_tail('server', 6)}") from exc
        finally:
            _finish(ctx, procs)


def _wait_node_driver(ctx: RunContext, procs: ProcessSet,
                      proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + driver_timeout(ctx.cfg, len(ctx.only))
    while proc.poll() is None and time.monotonic() < deadline:
        procs.snapshot()
        time.sleep(0.5)
    if proc.poll() is None:
        raise TimeoutError("driver did not finish in time")
    log = (procs.log_dir / "driver.log").read_text(errors="replace")
    for line in reversed(log.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT "):]))
    raise RuntimeError(f"driver exited {proc.returncode}: "
                       + " | ".join(log.splitlines()[-5:])[-500:])


def run_rivet23(ctx: RunContext) -> dict[str, Any]:
    return _rivet(ctx, "rivetkit-2.3", "engine")


def run_rivet221(ctx: RunContext) -> dict[str, Any]:
    return _rivet(ctx, "rivetkit-2.2.1", "fs")


# -- Restate -------------------------------------------------------------------------------


def run_restate(ctx: RunContext) -> dict[str, Any]:
    prefix = ctx.installed["restate-server"].path
    assert prefix is not None
    binary = prefix / "node_modules/@restatedev/restate-server-linux-x64/bin/restate-server"
    ingress, admin, fabric, svc = free_port(), free_port(), free_port(), free_port()
    env = _env({
        "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ingress}",
        "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{admin}",
        "RESTATE_BIND_PORT": str(fabric),
        "RESTATE_BIND_IP": "127.0.0.1",
        "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{fabric}",
        "RESTATE_LISTEN_MODE": "tcp",
    })
    hyper_cfg = ctx.work / "hypercorn.toml"
    # hypercorn's default keep_alive_max_requests (1000) makes Restate stall for about a
    # minute after every thousand calls; raised, as a production deployment would.
    hyper_cfg.write_text(f'bind = ["127.0.0.1:{svc}"]\nkeep_alive_max_requests = 1000000000\n')
    with ProcessSet(ctx.work / "logs") as procs:
        try:
            server = procs.spawn("restate", [str(binary), "--no-logo", "--base-dir",
                                             str(ctx.work / "data")], env=env, cwd=ctx.work)
            wait_for_port(admin, 60, server)
            wait_for_port(ingress, 60, server)
            hyper = ctx.cache / "venv" / "bin" / "hypercorn"
            svc_proc = procs.spawn("hypercorn", [str(hyper), "--config", str(hyper_cfg),
                                                 "benchmarks.peers.restate_app:app"],
                                   env=_env({"PYTHONPATH": str(REPO)}), cwd=REPO)
            wait_for_port(svc, 30, svc_proc)
            req = urllib.request.Request(
                f"http://127.0.0.1:{admin}/deployments", method="POST",
                data=json.dumps({"uri": f"http://127.0.0.1:{svc}"}).encode(),
                headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
            return _py_driver(ctx, procs, "restate", [f"http://127.0.0.1:{ingress}"])
        except Exception as exc:
            raise RuntimeError(f"{exc} | restate log: {procs.log_tail('restate', 4)}") from exc
        finally:
            _finish(ctx, procs)


# -- Ray -----------------------------------------------------------------------------------


def run_ray(ctx: RunContext) -> dict[str, Any]:
    with ProcessSet(ctx.work / "logs") as procs:
        try:
            return _py_driver(ctx, procs, "ray", [])
        finally:
            _finish(ctx, procs)


# -- durable-actors ------------------------------------------------------------------------

DURABLE_APP = '''from durable_actors import Actor, persisted


class Counter(Actor):
    count: int = persisted(0)

    def increment(self, amount: int = 1) -> int:
        self.count += amount
        return self.count
'''


def run_durable(ctx: RunContext) -> dict[str, Any]:
    bindir = ctx.cache / "venv" / "bin"
    cli = str(bindir / "durable-actors")
    project = ctx.work / "app"
    env = _env({"PATH": f"{bindir}:{os.environ.get('PATH', '')}"})
    subprocess.run([cli, "init", str(project)], check=True, capture_output=True, env=env)
    (project / "src" / "actors.py").write_text(DURABLE_APP)
    gen = subprocess.run([cli, "generate", "src/actors.py"], cwd=project, capture_output=True,
                         text=True, env=env)
    if gen.returncode != 0:
        raise RuntimeError(f"durable-actors generate failed: {gen.stderr[-400:]}")
    port = free_port()
    with ProcessSet(ctx.work / "logs") as procs:
        try:
            server = procs.spawn("server", [cli, "dev", "--no-watch", "--port", str(port),
                                            "--data-dir", str(ctx.work / "data")],
                                 env=env, cwd=project)
            wait_for_port(port, 60, server)
            return _py_driver(ctx, procs, "durable-actors",
                              [f"http://127.0.0.1:{port}", str(project)])
        except Exception as exc:
            raise RuntimeError(f"{exc} | server log: {procs.log_tail('server', 6)}") from exc
        finally:
            _finish(ctx, procs)


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="actorkit-peers-"))
