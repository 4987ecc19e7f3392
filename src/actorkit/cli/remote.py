"""``actorkit call``, ``state``, ``destroy`` and ``actors``: talk to a running server."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from actorkit.cli.extras import require
from actorkit.errors import ActorError

__all__ = ["parse_arg", "parse_key", "run_actors", "run_call", "run_destroy", "run_state"]


def parse_arg(text: str) -> Any:
    """A JSON value; anything that is not valid JSON is taken as a plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_key(text: str) -> list[str]:
    """``lobby`` → ``["lobby"]``; ``'["a","b"]'`` → ``["a", "b"]``; ``'[]'`` → no key."""
    if text.startswith("["):
        value = json.loads(text)
        if isinstance(value, list) and all(isinstance(p, str) for p in value):
            return value
        raise ValueError("KEY as JSON must be an array of strings")
    return [text]


def _fail(err: ActorError) -> int:
    print(f"error: {err.code}: {err.message}", file=sys.stderr)
    if err.metadata is not None:
        print(f"metadata: {json.dumps(err.metadata)}", file=sys.stderr)
    return 1


def _key(args: argparse.Namespace) -> list[str] | None:
    try:
        return parse_key(args.key)
    except ValueError as exc:
        print(f"error: invalid KEY: {exc}", file=sys.stderr)
        return None


def run_call(args: argparse.Namespace) -> int:
    require("client", "call")
    from actorkit.client.sync import Client

    key = _key(args)
    if key is None:
        return 2
    values = [parse_arg(a) for a in args.args]
    params = json.loads(args.params) if args.params else None
    try:
        with Client(args.url, timeout=args.timeout) as client:
            # One request (POST /actors/by-key/…): a call that cannot run creates nothing.
            if args.no_create:
                handle = client.get(args.name, key, params=params)
            else:
                handle = client.get_or_create(args.name, key, params=params)
            output = handle.action(args.action, *values)
    except ActorError as err:
        return _fail(err)
    print(json.dumps(output, indent=2 if args.pretty else None))
    return 0


def run_destroy(args: argparse.Namespace) -> int:
    require("client", "destroy")
    from actorkit.client.sync import Client

    key = _key(args)
    if key is None:
        return 2
    try:
        with Client(args.url, timeout=args.timeout) as client:
            handle = client.get(args.name, key)
            actor_id = handle.resolve()
            handle.destroy()
    except ActorError as err:
        return _fail(err)
    print(f"destroyed {args.name} {json.dumps(key)} ({actor_id})")
    return 0


def run_state(args: argparse.Namespace) -> int:
    """The state as the inspector shows it: read from memory or storage, never waking the
    actor, so reading it changes nothing (an action could; see docs/cli.md)."""
    require("client", "state")
    from actorkit.client.http import HttpTransport

    key = _key(args)
    if key is None:
        return 2
    if args.token and not (args.token.isascii() and args.token.isprintable()):
        print("error: the inspector token must be printable ASCII", file=sys.stderr)
        return 2
    headers = {"authorization": f"Bearer {args.token}"} if args.token else None
    transport = HttpTransport(args.url, timeout=args.timeout, headers=headers)

    async def fetch() -> Any:
        try:
            actor_id = await transport.resolve(args.name, tuple(key), "get", None, None)
            try:
                reply = await transport.request("GET", f"/inspector/api/actors/{actor_id}")
            except ActorError as err:
                if err.code == "not_found":  # no such route: the inspector is off
                    raise ActorError(
                        "inspector",
                        "inspector_off",
                        "the server's inspector is off: serve with `actorkit dev`, or set "
                        "ACTORKIT_INSPECTOR_TOKEN on the server and pass it (--token)",
                    ) from None
                raise
            return reply["state"]
        finally:
            await transport.aclose()

    try:
        state = asyncio.run(fetch())
    except ActorError as err:
        return _fail(err)
    print(json.dumps(state, indent=2 if args.pretty else None))
    return 0


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_actors(args: argparse.Namespace) -> int:
    require("client", "actors")
    from actorkit.client.sync import Client

    try:
        with Client(args.url, timeout=args.timeout) as client:
            actors = client.list_actors(args.name, limit=args.limit)
    except ActorError as err:
        return _fail(err)
    if args.json:
        print(json.dumps(actors))
        return 0
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for a in actors:
            print(a["actor_id"], a["name"], json.dumps(a["key"]), _when(a["created_at"]))
        return 0
    table = Table(title=f"actors at {args.url}" + (f" ({args.name})" if args.name else ""))
    for column in ("id", "name", "key", "created (UTC)", "region", "awake on"):
        table.add_column(column)
    for a in actors:
        table.add_row(
            a["actor_id"],
            a["name"],
            json.dumps(a["key"]),
            _when(a["created_at"]),
            a.get("region") or "",
            a.get("owner") or "",
        )
    Console(width=200).print(table)
    if not actors:
        print("no actors")
    return 0
