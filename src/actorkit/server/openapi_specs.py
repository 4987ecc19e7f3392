"""OpenAPI operation objects for each route (attached to endpoints, assembled by openapi.py)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTION",
    "CALL_BY_KEY",
    "CREATE",
    "DESTROY",
    "FIND_OR_LIST",
    "GET_ACTOR",
    "GET_OR_CREATE",
]

ERROR = {"$ref": "#/components/schemas/Error"}
ACTOR = {"$ref": "#/components/schemas/Actor"}

NAME = {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9_\\-]*$",
    "maxLength": 64,
    "description": "the actor type, e.g. counter",
}
KEY_PART = {"type": "string", "maxLength": 32}

# Any JSON value, as the schema states it: integers are 64-bit (a bigger one is
# invalid_request: msgpack and stored state cannot carry it). The schema is stricter than the
# server (two levels of nesting, no null, numbers within the int64 range), so whatever it
# admits is always accepted.
_NUMBER = {"type": "number", "minimum": -(2**63), "maximum": 2**63 - 1}
_SCALAR = {"anyOf": [{"type": "string"}, {"type": "boolean"}, _NUMBER]}
_NESTED = {
    "anyOf": [
        _SCALAR,
        {"type": "array", "items": _SCALAR},
        {"type": "object", "additionalProperties": _SCALAR},
    ]
}
VALUE = {
    "anyOf": [
        _NESTED,
        {"type": "array", "items": _NESTED},
        {"type": "object", "additionalProperties": _NESTED},
    ]
}


def _value(description: str) -> dict[str, Any]:
    return {**VALUE, "description": description}


# What every action call's body may hold.
_CALL_FIELDS: dict[str, Any] = {
    "args": {"type": "array", "items": VALUE, "description": "positional arguments"},
    "kwargs": {
        "type": "object",
        "additionalProperties": VALUE,
        "description": "keyword arguments, by parameter name",
    },
    "params": _value("connection params checked by on_before_connect"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["group", "code", "message", "metadata"],
        "properties": {
            "group": {"type": "string"},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "metadata": {},
        },
    },
    "Actor": {
        "type": "object",
        "required": ["actor_id", "name", "key", "created_at", "region", "owner"],
        "properties": {
            "actor_id": {"type": "string"},
            "name": {"type": "string"},
            "key": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "number"},
            "region": {"type": "string", "nullable": True},
            "owner": {
                "type": "string",
                "nullable": True,
                "description": "id of the node that has the actor awake (null: asleep)",
            },
        },
    },
    "ResolveRequest": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": NAME,
            "key": {
                "description": "a string or a list of strings; absent or null means []. "
                "At most 16 parts, 128 UTF-8 bytes per part and 1024 bytes in all (the "
                "schema states a stricter bound that is always accepted)",
                "oneOf": [KEY_PART, {"type": "array", "items": KEY_PART, "maxItems": 8}],
                "nullable": True,
            },
            "input": _value("passed to create_state/on_create on creation only"),
            "region": {"type": "string", "nullable": True},
        },
        "additionalProperties": VALUE,  # ignored
    },
    "ActionRequest": {
        "type": "object",
        "properties": {
            **_CALL_FIELDS,
        },
        "additionalProperties": VALUE,  # ignored
    },
    "ActionByKeyRequest": {
        "type": "object",
        "properties": {
            **_CALL_FIELDS,
            "input": _value("with create=true: the input if the call creates it"),
            "region": {"type": "string", "nullable": True, "description": "as for input"},
        },
        "additionalProperties": VALUE,  # ignored
    },
    "ActionByKeyReply": {
        "type": "object",
        "required": ["output", "actor_id"],
        "properties": {"output": {}, "actor_id": {"type": "string"}},
    },
    "ActionReply": {
        "type": "object",
        "required": ["output"],
        "properties": {"output": {}},
    },
    "ActorList": {
        "type": "object",
        "required": ["actors", "next"],
        "properties": {
            "actors": {"type": "array", "items": ACTOR},
            "next": {"type": "string", "nullable": True, "description": "cursor for `after`"},
        },
    },
    "Health": {
        "type": "object",
        "required": [
            "status",
            "version",
            "actors_awake",
            "connections_hibernating",
            "node",
            "peers",
        ],
        "properties": {
            "status": {
                "type": "string",
                "description": "ok, draining (shutting down), or unavailable (lease lapsed)",
            },
            "version": {"type": "string"},
            "actors_awake": {"type": "integer", "minimum": 0},
            "connections_hibernating": {"type": "integer", "minimum": 0},
            "node": {
                "type": "object",
                "required": ["id", "url", "region", "cluster"],
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string", "nullable": True},
                    "region": {"type": "string", "nullable": True},
                    "cluster": {"type": "boolean", "description": "storage is shared"},
                    "unavailable_reason": {"type": "string", "nullable": True},
                },
            },
            "peers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "url", "region", "live", "lease_left", "actor_types"],
                    "properties": {
                        "id": {"type": "string"},
                        "url": {"type": "string", "nullable": True},
                        "region": {"type": "string", "nullable": True},
                        "live": {"type": "boolean"},
                        "lease_left": {"type": "number"},
                        "actor_types": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}

_BODY_TYPES = ("application/json", "application/msgpack")


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {media: {"schema": schema} for media in _BODY_TYPES}


def _errors(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        str(s): {"description": "error", "content": _content(ERROR)} for s in statuses
    }
    out["default"] = {"description": "error", "content": _content(ERROR)}
    return out


def _ok(status: int, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {str(status): {"description": description, "content": _content(schema)}}


def _body(name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": _content({"$ref": f"#/components/schemas/{name}"})}


ACTOR_ID = {"name": "actor_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _client_header(required: bool) -> dict[str, Any]:
    return {
        "name": "X-Actorkit-Client",
        "in": "header",
        "required": required,
        "description": "any value; needed (against CSRF) when the request has no JSON or "
        "msgpack Content-Type, else 415 unsupported_media_type",
        "schema": {"type": "string"},
    }


GET_OR_CREATE = {
    "put": {
        "operationId": "getOrCreateActor",
        "summary": "Find the actor name[key], creating it (with input) if missing",
        "requestBody": _body("ResolveRequest"),
        "responses": {**_ok(200, ACTOR, "the actor"), **_errors(400, 404, 413, 415, 500)},
    }
}
CREATE = {
    "post": {
        "operationId": "createActor",
        "summary": "Create the actor name[key]; 409 actor_already_exists if it exists",
        "requestBody": _body("ResolveRequest"),
        "responses": {**_ok(201, ACTOR, "the new actor"), **_errors(400, 404, 409, 413, 415)},
    }
}
FIND_OR_LIST = {
    "get": {
        "operationId": "findOrListActors",
        "summary": "With key: find name[key]. Without: list actors (of one name), by id",
        "parameters": [
            {"name": "name", "in": "query", "schema": NAME},
            {
                "name": "key",
                "in": "query",
                "description": "a JSON array, or one value per key part (repeat key=); "
                "needs name (400 validation_error without it)",
                "schema": {"type": "array", "items": KEY_PART, "maxItems": 8},
                "style": "form",
                "explode": True,
            },
            {"name": "after", "in": "query", "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
        ],
        "responses": {
            "200": {
                "description": "the actor (with key) or a page of actors",
                "content": _content({"oneOf": [ACTOR, {"$ref": "#/components/schemas/ActorList"}]}),
            },
            **_errors(400, 404),
        },
    }
}
GET_ACTOR = {
    "get": {
        "operationId": "getActor",
        "summary": "The actor with this id",
        "parameters": [ACTOR_ID],
        "responses": {**_ok(200, ACTOR, "the actor"), **_errors(404)},
    }
}
DESTROY = {
    "delete": {
        "operationId": "destroyActor",
        "summary": "Destroy the actor (on_destroy runs, all data is deleted, the key is free)",
        "parameters": [ACTOR_ID, _client_header(required=True)],
        "responses": {
            **_ok(
                200,
                {
                    "type": "object",
                    "required": ["actor_id", "destroyed"],
                    "properties": {
                        "actor_id": {"type": "string"},
                        "destroyed": {"type": "boolean"},
                    },
                },
                "destroyed",
            ),
            **_errors(404, 415),
        },
    }
}
_CALL_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Actorkit-Params",
        "in": "header",
        "description": "JSON connection params for on_before_connect",
        "schema": {"type": "string"},
    },
    _client_header(required=False),
    {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "a repeat with the same key returns the first outcome "
        "without running the action again (see docs/actions.md)",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[!-~]+$",
        },
    },
]
ACTION = {
    "post": {
        "operationId": "callAction",
        "summary": "Call an action with args and kwargs; replies once its changes are durable",
        "parameters": [
            ACTOR_ID,
            {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}},
            *_CALL_HEADERS,
        ],
        "requestBody": _body("ActionRequest", required=False),
        "responses": {
            **_ok(200, {"$ref": "#/components/schemas/ActionReply"}, "the action's output"),
            **_errors(400, 401, 403, 404, 413, 415, 422, 500, 503, 504),
        },
    }
}


CALL_BY_KEY = {
    "post": {
        "operationId": "callActionByKey",
        "summary": "Call an action on name[key] in one request (creating it with create=true)",
        "description": "Without create (or create=false) the actor must exist (404 "
        "actor_not_found). With create=true a missing actor is created first — but only "
        "if the action exists and the arguments are valid for it: a call refused for "
        "those reasons creates nothing.",
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": NAME},
            {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "key",
                "in": "query",
                "description": "a JSON array, or one value per key part (repeat key=); "
                "absent: no key ([])",
                "schema": {"type": "array", "items": KEY_PART, "maxItems": 8},
                "style": "form",
                "explode": True,
            },
            {
                "name": "create",
                "in": "query",
                "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
            },
            *_CALL_HEADERS,
        ],
        "requestBody": _body("ActionByKeyRequest", required=False),
        "responses": {
            **_ok(200, {"$ref": "#/components/schemas/ActionByKeyReply"}, "the output"),
            **_errors(400, 401, 403, 404, 413, 415, 422, 500, 503, 504),
        },
    }
}


def _raw(method: str) -> dict[str, Any]:
    return {
        "operationId": f"rawRequest{method.capitalize()}",
        "summary": "Raw HTTP, answered by the actor's on_request(request) hook",
        "parameters": [
            ACTOR_ID,
            {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {
            "default": {"description": "whatever on_request returns, or an error body"},
        },
    }


RAW_REQUEST = {m: _raw(m) for m in ("get", "post", "put", "patch", "delete")}
HEALTH = {
    "get": {
        "operationId": "health",
        "summary": "Liveness",
        "responses": _ok(200, {"$ref": "#/components/schemas/Health"}, "serving"),
    }
}
OPENAPI = {
    "get": {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.0 document"}},
    }
}
