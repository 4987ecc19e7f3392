"""The inspector's routes: the JSON API under ``/inspector/api``, the live WebSocket, and the
static page at ``/inspector/``. See ``docs/inspector.md`` for every endpoint."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from actorkit.errors import ActorError, Code, validation_error
from actorkit.inspector import console, database, edits
from actorkit.inspector.auth import InspectorAccess, check_origin
from actorkit.inspector.listing import list_actors
from actorkit.inspector.live import live_endpoint
from actorkit.inspector.views import (
    actor_summary,
    connections_of,
    describe_type,
    schedules_of,
    state_of,
)
from actorkit.server.encoding import JSON, decode_body, encode_response, query_int, read_body
from actorkit.server.endpoint import endpoint
from actorkit.server.errors import unsupported_media_type

if TYPE_CHECKING:
    from actorkit._runtime.node import Node

__all__ = ["STATIC_DIR", "inspector_routes"]

STATIC_DIR = Path(__file__).parent / "static"
MAX_EVENTS = 1000

Handler = Callable[[Request], Awaitable[Response]]


def inspector_routes(node: Node, ensure: Callable[[], Awaitable[None]]) -> Sequence[BaseRoute]:
    """Routes of the inspector, or none when it is off (no dev mode, no token)."""
    access = InspectorAccess.from_env(node.dev)
    if not access.enabled:
        return []
    node.activity.keep_history()

    def api(fn: Handler) -> Handler:
        @endpoint()
        @functools.wraps(fn)
        async def guarded(request: Request) -> Response:
            check_origin(request)
            access.check(request)
            await ensure()
            return await fn(request)

        return guarded

    async def body_of(request: Request) -> dict[str, Any]:
        # JSON only, declared: a body without Content-Type is what a cross-site form or
        # fetch can send without a CORS preflight.
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != JSON:
            raise unsupported_media_type(content_type)
        data = decode_body(request, await read_body(request, node.limits.max_input_bytes + 4096))
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise validation_error("request body must be a JSON object")
        return data

    def reply(request: Request, content: Any, status: int = 200) -> Response:
        return encode_response(request, content, status)

    @api
    async def info(request: Request) -> Response:
        from actorkit import __version__

        return reply(
            request,
            {
                "version": __version__,
                "dev": access.dev,
                "console": access.console,
                "auth": access.token is not None,
                "types": [describe_type(node, d) for d in node.registry.definitions()],
            },
        )

    @api
    async def actors(request: Request) -> Response:
        name = request.query_params.get("name") or None
        if name is not None and name not in node.registry.names:
            raise validation_error(f"no actor type {name!r}", {"types": node.registry.names})
        status = request.query_params.get("status") or None
        if status not in (None, "awake", "asleep"):
            raise validation_error("status must be awake or asleep")
        page = await list_actors(
            node,
            name=name,
            query=request.query_params.get("q", ""),
            status=status,
            after=request.query_params.get("after") or None,
            limit=query_int(request, "limit", 50, 1, 500),
        )
        page["types"] = [describe_type(node, d) for d in node.registry.definitions()]
        return reply(request, page)

    @api
    async def actor(request: Request) -> Response:
        actor_id = request.path_params["id"]
        record = await node.get_record(actor_id)
        definition = node.registry.definition(record.name)
        return reply(
            request,
            {
                "actor": actor_summary(node, record),
                "has_state": definition.has_state,
                "state": await state_of(node, actor_id),
                "type": describe_type(node, definition),
            },
        )

    @api
    async def put_state(request: Request) -> Response:
        actor_id = request.path_params["id"]
        body = await body_of(request)
        if "state" not in body:
            raise validation_error('body must be {"state": <new state>}')
        await node.get_record(actor_id)
        state = await edits.edit_state(node, actor_id, body["state"])
        return reply(request, {"state": state})

    @api
    async def call_action(request: Request) -> Response:
        actor_id = request.path_params["id"]
        body = await body_of(request)
        args = body.get("args", [])
        if not isinstance(args, list):
            raise validation_error("args must be an array")
        await node.get_record(actor_id)
        started = time.perf_counter()
        output = await node.call(  # the developer's tool: internal actions too
            actor_id, request.path_params["name"], args, params=body.get("params"), inside=True
        )
        return reply(
            request, {"output": output, "duration_ms": (time.perf_counter() - started) * 1e3}
        )

    @api
    async def connections(request: Request) -> Response:
        actor_id = request.path_params["id"]
        await node.get_record(actor_id)
        return reply(request, {"connections": await connections_of(node, actor_id)})

    @api
    async def disconnect(request: Request) -> Response:
        p = request.path_params
        await edits.disconnect(node, p["id"], p["conn_id"])
        return reply(request, {"disconnected": p["conn_id"]})

    @api
    async def schedules(request: Request) -> Response:
        actor_id = request.path_params["id"]
        await node.get_record(actor_id)
        return reply(request, {"schedules": await schedules_of(node, actor_id)})

    @api
    async def cancel_schedule(request: Request) -> Response:
        p = request.path_params
        await node.get_record(p["id"])
        await edits.cancel_schedule(node, p["id"], p["sid"])
        return reply(request, {"cancelled": p["sid"]})

    @api
    async def db_tables(request: Request) -> Response:
        tables = await database.list_tables(node, request.path_params["id"])
        return reply(request, {"tables": tables})

    @api
    async def db_rows(request: Request) -> Response:
        p = request.path_params
        offset = query_int(request, "offset", 0, 0, 2**62)
        limit = query_int(request, "limit", 50, 1, database.MAX_ROWS)
        return reply(request, await database.table_rows(node, p["id"], p["table"], offset, limit))

    @api
    async def db_query(request: Request) -> Response:
        body = await body_of(request)
        sql, params = body.get("sql"), body.get("params", [])
        if not isinstance(sql, str):
            raise validation_error('body must be {"sql": "...", "params": [...]}')
        if not isinstance(params, list):
            raise validation_error("params must be an array")
        try:
            result = await database.query(node, request.path_params["id"], sql, params)
        except ActorError as err:
            if err.code not in database.QUERY_ERRORS:
                raise
            return reply(request, err.to_wire(), 400)  # the query is at fault, not the server
        return reply(request, result)

    @api
    async def run_console(request: Request) -> Response:
        if not access.console:
            raise ActorError(
                "inspector", Code.FORBIDDEN, "the console is only available in dev mode"
            )
        body = await body_of(request)
        code = body.get("code")
        if not isinstance(code, str):
            raise validation_error('body must be {"code": "..."}')
        actor_id = request.path_params["id"]
        await node.get_record(actor_id)
        return reply(request, await console.evaluate(node, actor_id, code))

    @api
    async def events(request: Request) -> Response:
        actor_id = request.query_params.get("actor_id") or None
        after = query_int(request, "after", 0, 0, 2**62)
        limit = query_int(request, "limit", 200, 1, MAX_EVENTS)
        found = [
            e
            for e in list(node.activity.recent)
            if e["seq"] > after and (actor_id is None or e["actor_id"] == actor_id)
        ]
        return reply(request, {"events": found[-limit:]})

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    async def to_page(request: Request) -> Response:
        return RedirectResponse(str(request.url.replace(path=request.url.path + "/")))

    a = "/inspector/api"
    return [
        Route("/inspector", to_page, methods=["GET"]),
        Route("/inspector/", page, methods=["GET"]),
        Mount("/inspector/static", StaticFiles(directory=STATIC_DIR), name="inspector-static"),
        Route(f"{a}/info", info, methods=["GET"]),
        Route(f"{a}/actors", actors, methods=["GET"]),
        Route(f"{a}/actors/{{id}}", actor, methods=["GET"]),
        Route(f"{a}/actors/{{id}}/state", put_state, methods=["PUT"]),
        Route(f"{a}/actors/{{id}}/actions/{{name}}", call_action, methods=["POST"]),
        Route(f"{a}/actors/{{id}}/connections", connections, methods=["GET"]),
        Route(f"{a}/actors/{{id}}/connections/{{conn_id}}", disconnect, methods=["DELETE"]),
        Route(f"{a}/actors/{{id}}/schedules", schedules, methods=["GET"]),
        Route(f"{a}/actors/{{id}}/schedules/{{sid}}", cancel_schedule, methods=["DELETE"]),
        Route(f"{a}/actors/{{id}}/db/tables", db_tables, methods=["GET"]),
        Route(f"{a}/actors/{{id}}/db/tables/{{table}}/rows", db_rows, methods=["GET"]),
        Route(f"{a}/actors/{{id}}/db/query", db_query, methods=["POST"]),
        Route(f"{a}/actors/{{id}}/console", run_console, methods=["POST"]),
        Route(f"{a}/events", events, methods=["GET"]),
        WebSocketRoute(f"{a}/live", live_endpoint(node, access, ensure)),
    ]
