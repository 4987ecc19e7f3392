"""Install the peers into a cache directory outside the repository, idempotently.

``~/.cache/actorkit-peers/`` (or ``$ACTORKIT_PEERS_CACHE``) holds one venv for the Python
peers and the harness's client libraries, and one npm prefix per Node package. A peer that
fails to install is returned with its error, so the table reports it instead of dropping it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The drivers' client libraries; msgspec and websockets also let actorkit's own client
# (imported from the repository's src/) run in this venv.
CLIENT_LIBS = ["aiohttp>=3.9", "msgspec>=0.19", "websockets>=13", "httpx>=0.27",
               "matplotlib>=3.8"]

# peer -> (kind, install spec, package whose version is reported)
PACKAGES: dict[str, tuple[str, list[str], str]] = {
    "ray": ("pip", ["ray>=2.40"], "ray"),
    "restate-sdk": ("pip", ["restate-sdk>=1.0", "hypercorn>=0.17"], "restate-sdk"),
    "durable-actors": ("pip", ["durable-actors[cli]>=0.12"], "durable-actors"),
    "rivetkit-2.3": ("npm", ["rivetkit@~2.3"], "rivetkit"),
    "rivetkit-2.2.1": ("npm", ["rivetkit@2.2.1"], "rivetkit"),
    "restate-server": ("npm", ["@restatedev/restate-server-linux-x64@^1.5"],
                       "@restatedev/restate-server-linux-x64"),
}


@dataclass
class Installed:
    name: str
    ok: bool
    version: str = ""
    error: str = ""
    path: Path | None = None  # the npm prefix, or the venv


def cache_dir() -> Path:
    return Path(os.environ.get("ACTORKIT_PEERS_CACHE", "~/.cache/actorkit-peers")).expanduser()


def venv_python(cache: Path) -> Path:
    return cache / "venv" / "bin" / "python"


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 900) -> str | None:
    """Run an install step; return None on success or the tail of its output."""
    try:
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if r.returncode == 0:
        return None
    lines = [ln for ln in (r.stdout + r.stderr).splitlines()
             if ln.strip() and not ln.startswith("WARNING: Location")]
    return f"exit {r.returncode}: " + " | ".join(lines[-4:])[-600:]


def _pip_version(cache: Path, dist: str) -> str:
    r = subprocess.run(
        [str(venv_python(cache)), "-c",
         f"import importlib.metadata as m; print(m.version({dist!r}))"],
        capture_output=True, text=True,
    )
    return r.stdout.strip() if r.returncode == 0 else ""


def _npm_version(prefix: Path, pkg: str) -> str:
    try:
        data = json.loads((prefix / "node_modules" / pkg / "package.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(data.get("version", ""))


def ensure_venv(cache: Path) -> str | None:
    py = venv_python(cache)
    stamp = cache / "venv" / ".clients-installed"
    if stamp.exists():
        return None
    if not py.exists():
        err = _run([sys.executable, "-m", "venv", str(cache / "venv")])
        if err:
            return err
    err = _run([str(py), "-m", "pip", "install", "--quiet", *CLIENT_LIBS])
    if err is None:
        stamp.touch()
    return err


def install_one(cache: Path, name: str, *, venv_error: str | None = None) -> Installed:
    kind, spec, dist = PACKAGES[name]
    if kind == "pip":
        if venv_error:
            return Installed(name, False, error=f"venv: {venv_error}")
        stamp = cache / "venv" / f".installed-{name}"
        if not stamp.exists():
            err = _run([str(venv_python(cache)), "-m", "pip", "install", "--quiet", *spec])
            if err:
                return Installed(name, False, error=err)
            stamp.touch()
        version = _pip_version(cache, dist)
        return Installed(name, bool(version), version, "" if version else "not importable",
                         cache / "venv")
    prefix = cache / f"npm-{name}"
    stamp = prefix / ".installed"
    if not stamp.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        err = _run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *spec])
        if err:
            return Installed(name, False, error=err)
        stamp.touch()
    version = _npm_version(prefix, dist)
    return Installed(name, bool(version), version, "" if version else "package missing", prefix)


def install_all(names: list[str] | None = None) -> dict[str, Installed]:
    """Install (or find already installed) every peer; never raise for a peer's failure."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    venv_error = ensure_venv(cache)
    out: dict[str, Installed] = {}
    for name in names or list(PACKAGES):
        print(f"  installing {name} ...", flush=True)
        out[name] = install_one(cache, name, venv_error=venv_error)
        state = out[name].version if out[name].ok else f"FAILED: {out[name].error}"
        print(f"  {name}: {state}", flush=True)
    return out
