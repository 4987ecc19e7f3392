"""Actor routes: create/find/list/destroy actors, call actions, raw ``on_request``.

See ``docs/protocol.md`` for the wire contract of every route.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

from actorkit._runtime.forwarding import MAX_HOPS
from actorkit.errors import ActorError, Code, too_large, validation_error
from actorkit.protocol.records import record_to_dict
from actorkit.server import openapi_specs as spec
from actorkit.server.auth import admit
from actorkit.server.bodies import (
    IDEMPOTENCY_HEADER,
    PARAMS_HEADER,
    action_args,
    action_kwargs,
    body_dict,
    check_not_cross_site,
    parse_params,
)
from actorkit.server.encoding import (
    decode_body,
    encode_response,
    parse_json,
    query_int,
    read_body,
)
from actorkit.server.endpoint import Starter, endpoint
from actorkit.server.fastpath import ActionFastPath
from actorkit.server.forward import forwarded_hops, http_forwarder, proxy_request

if TYPE_CHECKING:
    from actorkit._runtime.actor import Actor
    from actorkit._runtime.auth import Intent
    from actorkit._runtime.node import Node, ResolveMode
    from actorkit.storage.base import ActorRecord

__all__ = ["actor_routes"]

_json_encode = msgspec.json.Encoder().encode

MAX_LIST_LIMIT = 1000
# A create body holds the input plus name/key/region: allow the input limit plus this much.
_CREATE_OVERHEAD = 16 * 1024


def _query_key(request: Request) -> Any:
    """``key`` from the query: one JSON array, or one value per part (repeated ``key=``)."""
    values = request.query_params.getlist("key")
    if len(values) == 1 and values[0].startswith("["):
        try:
            key = parse_json(values[0], "key")
        except ValueError as exc:
            raise validation_error(f"key is not a valid JSON array: {exc}") from None
        return key
    return values


def _to_response(result: Any) -> Response:
    """What an ``on_request`` hook may return: a Response, str, bytes, JSON value or None."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str):
        return PlainTextResponse(result)
    if isinstance(result, bytes | bytearray | memoryview):
        return Response(bytes(result), media_type="application/octet-stream")
    try:
        return Response(_json_encode(result), media_type="application/json")
    except (TypeError, ValueError, OverflowError) as exc:
        raise ActorError(
            "actor", Code.OUTPUT_NOT_SERIALIZABLE, f"on_request returned {type(result)!r}: {exc}"
        ) from None


def _limited_receive(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(f"request body exceeds the limit of {limit} bytes", limit)
        return message

    return limited


def actor_routes(node: Node, ensure_started: Starter) -> Sequence[BaseRoute]:
    """The ``/actors`` routes, bound to ``node``."""
    limits = node.limits

    async def resolve(request: Request, mode: ResolveMode, status: int) -> Response:
        check_not_cross_site(request.headers.get("content-type", ""), request.headers.raw)
        await ensure_started()
        limit = limits.max_input_bytes + _CREATE_OVERHEAD
        body = body_dict(decode_body(request, await read_body(request, limit)))
        name = body.get("name")
        if not isinstance(name, str):
            raise validation_error("body needs a string field 'name'")
        region = body.get("region")
        if region is not None and not isinstance(region, str):
            raise validation_error("region must be a string")
        intent: Intent = "create" if mode == "create" else "get_or_create"
        await admit(node, request.scope, intent, name=name, key=body.get("key"))
        record = await node.resolve(
            name,
            body.get("key"),
            mode,
            body.get("input"),
            region,
        )
        return encode_response(request, record_to_dict(record), status)

    @endpoint(spec.GET_OR_CREATE)
    async def get_or_create(request: Request) -> Response:
        return await resolve(request, "get_or_create", 200)

    @endpoint(spec.CREATE)
    async def create(request: Request) -> Response:
        return await resolve(request, "create", 201)

    @endpoint(spec.FIND_OR_LIST)
    async def find_or_list(request: Request) -> Response:
        await ensure_started()
        query = request.query_params
        name = query.get("name") or None
        if "key" in query:
            if name is None:
                raise validation_error("finding by key needs a name")
            key = _query_key(request)
            await admit(node, request.scope, "get", name=name, key=key)
            record = await node.resolve(name, key, "get")
            return encode_response(request, record_to_dict(record))
        if name is not None:
            node.registry.definition(name)
        await admit(node, request.scope, "list", name=name)
        limit = query_int(request, "limit", 100, 1, MAX_LIST_LIMIT)
        after = query.get("after") or None
        records = await node.list_actors(name, after=after, limit=limit)
        actors = [record_to_dict(r) for r in records]
        next_after = records[-1].id if len(records) == limit else None
        return encode_response(request, {"actors": actors, "next": next_after})

    @endpoint(spec.GET_ACTOR)
    async def get_actor(request: Request) -> Response:
        await ensure_started()
        record = await node.get_record(request.path_params["actor_id"])
        await admit(node, request.scope, "get", actor_id=record.id)
        return encode_response(request, record_to_dict(record))

    @endpoint(spec.DESTROY)
    async def destroy(request: Request) -> Response:
        check_not_cross_site(request.headers.get("content-type", ""), request.headers.raw)
        await ensure_started()
        actor_id = request.path_params["actor_id"]
        await admit(node, request.scope, "destroy", actor_id=actor_id)
        await node.get_record(actor_id)
        await node.destroy(actor_id, hops=forwarded_hops(request.headers))
        return encode_response(request, {"actor_id": actor_id, "destroyed": True})

    @endpoint(spec.CALL_BY_KEY)
    async def call_by_key(request: Request) -> Response:
        """One request for what takes two by id: find (or create) name[key], call action."""
        check_not_cross_site(request.headers.get("content-type", ""), request.headers.raw)
        await ensure_started()
        name = request.path_params["name"]
        action = request.path_params["action"]
        key = _query_key(request)
        create = request.query_params.get("create", "false")
        if create not in ("true", "false"):
            raise validation_error("create must be true or false")
        limit = limits.max_message_bytes + (limits.max_input_bytes if create == "true" else 0)
        body = body_dict(decode_body(request, await read_body(request, limit)))
        args = action_args(body)
        kwargs = action_kwargs(body)
        params = parse_params(request.headers.get(PARAMS_HEADER), limits, body)
        intent: Intent = "get_or_create" if create == "true" else "get"
        await admit(node, request.scope, intent, name=name, key=key)
        try:
            record: ActorRecord | None = await node.resolve(name, key, "get")
        except ActorError as err:
            if err.code != Code.ACTOR_NOT_FOUND or create != "true":
                raise
            record = None
        if record is None:
            # A call that cannot run creates nothing: check the action and its arguments
            # against the class before creating the actor (the node that has it checks
            # again when the type is not registered here).
            if name in node.registry.names:  # else a peer node that has the type creates it
                node.registry.definition(name).action(action, outside=True).bind(args, kwargs)
            region = body.get("region")
            if region is not None and not isinstance(region, str):
                raise validation_error("region must be a string")
            input = body.get("input")
            record = await node.resolve(name, key, "get_or_create", input, region)
        if node.registry.authenticates:
            await admit(
                node, request.scope, "call", actor_id=record.id, action=action, params=params
            )
        output = await node.call(
            record.id,
            action,
            args,
            params=params,
            hops=forwarded_hops(request.headers),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            kwargs=kwargs,
        )
        return encode_response(request, {"output": output, "actor_id": record.id})

    # Action calls are served by the pure-ASGI fast path (also used ahead of routing).
    call_action = ActionFastPath(node, ensure_started)
    call_action.__openapi__ = spec.ACTION

    @endpoint(spec.RAW_REQUEST)
    async def raw_request(request: Request) -> Response:
        await ensure_started()
        actor_id = request.path_params["actor_id"]
        await admit(node, request.scope, "request", actor_id=actor_id)
        moved = await node.locate(actor_id)
        if moved is not None:
            if forwarded_hops(request.headers) >= MAX_HOPS:
                raise moved
            return await proxy_request(http_forwarder(node.forwarder), request, moved.url)
        record = await node.get_record(actor_id)
        if "on_request" not in node.registry.definition(record.name).hooks:
            raise ActorError(
                "actor", Code.NOT_FOUND, f"actor {record.name!r} has no on_request handler"
            )
        # The actor sees its own path ("/count"); root_path keeps the full prefix
        # (".../actors/{id}/request") for anyone building absolute URLs.
        sub_path = "/" + request.path_params["path"]
        full_path: str = request.scope["path"]
        scope = dict(request.scope)
        scope["path"] = sub_path
        scope["raw_path"] = quote(sub_path).encode()
        scope["root_path"] = full_path[: len(full_path) - len(sub_path)]
        inner = Request(scope, _limited_receive(request.receive, limits.max_request_body_bytes))

        def handler(actor: Actor) -> Any:
            return actor.on_request(inner)  # type: ignore[attr-defined]

        result = await node.run_in_actor(actor_id, "on_request", handler)
        return _to_response(result)

    return [
        Route("/actors", get_or_create, methods=["PUT"]),
        Route("/actors", create, methods=["POST"]),
        Route("/actors", find_or_list, methods=["GET"]),
        Route("/actors/by-key/{name}/actions/{action}", call_by_key, methods=["POST"]),
        Route("/actors/{actor_id}", get_actor, methods=["GET"]),
        Route("/actors/{actor_id}", destroy, methods=["DELETE"]),
        Route("/actors/{actor_id}/actions/{action}", call_action, methods=["POST"]),
        Route(
            "/actors/{actor_id}/request/{path:path}",
            raw_request,
            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        ),
    ]
