"""The ``actorkit`` command: ``dev``, ``serve``, ``call``, ``state``, ``destroy``,
``actors``, ``storage``. See ``docs/cli.md``.

Example::

    actorkit dev app:registry
    actorkit call counter my-counter increment 5
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from actorkit.cli.load import AppLoadError

__all__ = ["DEFAULT_URL", "ENV_URL", "build_parser", "main"]

DEFAULT_URL = "http://127.0.0.1:6420"
#: The server the client commands talk to when ``--url`` is not given.
ENV_URL = "ACTORKIT_URL"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actorkit", description="Stateful actors for Python.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def server_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("app", metavar="MODULE:REGISTRY", help="e.g. app:registry or app.py")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=6420)
        env = os.environ
        p.add_argument(
            "--storage",
            default=env.get("ACTORKIT_STORAGE"),
            help="storage URL: sqlite:///dir (default sqlite:///.actorkit), memory://, or "
            "postgresql://… to join a cluster [ACTORKIT_STORAGE]",
        )
        p.add_argument(
            "--region", default=env.get("ACTORKIT_REGION"), help="this node's region label"
        )
        p.add_argument(
            "--advertise-url",
            default=env.get("ACTORKIT_ADVERTISE_URL"),
            metavar="URL",
            help="the base URL other cluster nodes reach this one at (default "
            "http://HOST:PORT) [ACTORKIT_ADVERTISE_URL]",
        )
        p.add_argument(
            "--lease-seconds",
            type=float,
            default=float(env.get("ACTORKIT_LEASE_SECONDS") or 10.0),
            metavar="N",
            help="cluster membership lease: a node that cannot renew it for N seconds is "
            "replaced (default 10) [ACTORKIT_LEASE_SECONDS]",
        )
        p.add_argument(
            "--cors-origin",
            action="append",
            default=None,
            metavar="ORIGIN",
            help="let browser pages from ORIGIN call the API (repeatable; '*' for any)",
        )
        return p

    serve = server_command("serve", "serve a registry over HTTP")
    serve.add_argument("--log-level", default="info")
    dev = server_command("dev", "serve with auto-reload and readable logs (dev mode)")
    dev.add_argument("--no-reload", action="store_true", help="do not restart on code change")
    dev.add_argument("--verbose", "-v", action="store_true")

    def client_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--url",
            default=os.environ.get(ENV_URL) or DEFAULT_URL,
            help=f"server URL (default {DEFAULT_URL}) [{ENV_URL}]",
        )
        p.add_argument("--timeout", type=float, default=60.0)
        return p

    def addressed(name: str, help: str) -> argparse.ArgumentParser:
        p = client_command(name, help)
        p.add_argument("name", metavar="NAME", help="actor name, e.g. counter")
        p.add_argument("key", metavar="KEY", help='key: a string, or a JSON array ("[]" for none)')
        return p

    call = client_command(
        "call",
        "call an action (the actor is created if missing, unless the call cannot run: an "
        "unknown action or invalid arguments create nothing)",
    )
    call.add_argument("name", metavar="NAME", help="actor name, e.g. counter")
    call.add_argument("key", metavar="KEY", help='key: a string, or a JSON array ("[]" for none)')
    call.add_argument("action", metavar="ACTION")
    call.add_argument("args", metavar="ARGS", nargs="*", help="JSON values (else strings)")
    call.add_argument("--params", default=None, help="connection params as JSON")
    call.add_argument("--pretty", action="store_true", help="indent the JSON output")
    call.add_argument(
        "--no-create", action="store_true", help="fail with actor_not_found if it does not exist"
    )
    state = addressed("state", "print an actor's state as JSON (never creates or wakes it)")
    state.add_argument(
        "--token",
        default=os.environ.get("ACTORKIT_INSPECTOR_TOKEN"),
        help="the server's inspector token (not needed for `actorkit dev`) "
        "[ACTORKIT_INSPECTOR_TOKEN]",
    )
    state.add_argument("--pretty", action="store_true", help="indent the JSON output")
    addressed("destroy", "destroy an actor and all its data (on_destroy runs)")
    actors = client_command("actors", "list actors (of one NAME)")
    actors.add_argument("name", metavar="NAME", nargs="?", default=None)
    actors.add_argument("--limit", type=int, default=100)
    actors.add_argument("--json", action="store_true", help="print JSON instead of a table")
    from actorkit.cli import storage

    storage.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from actorkit import __version__

        print(f"actorkit {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from actorkit.cli import remote, serving, storage

    run = {
        "serve": serving.run_serve,
        "dev": serving.run_dev,
        "call": remote.run_call,
        "state": remote.run_state,
        "destroy": remote.run_destroy,
        "actors": remote.run_actors,
        "storage": storage.run,
    }[args.command]
    try:
        return run(args)
    except AppLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
