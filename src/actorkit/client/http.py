"""``HttpTransport``: the client transport over HTTP (httpx), per ``docs/protocol.md``.

One ``httpx.AsyncClient`` per transport: connections are kept alive and reused. Retries
happen only where they cannot run anything twice: a connection that failed before the
request was sent, or an idempotent request (get-or-create ``PUT``, ``GET``, and every action
call: each carries an ``Idempotency-Key`` that its retries reuse, so a call whose outcome
is unknown — reply lost, timeout, a retryable 503 — is sent again without running twice).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import msgspec

from actorkit.client.transport import ResolveMode
from actorkit.errors import ActorError, Code

__all__ = ["IDEMPOTENCY_HEADER", "PARAMS_HEADER", "HttpTransport", "connection_lost"]

PARAMS_HEADER = "X-Actorkit-Params"
IDEMPOTENCY_HEADER = "Idempotency-Key"
JSON = "application/json"
MSGPACK = "application/msgpack"
RETRIES = 2
_RETRY_DELAY = 0.05

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode
_msgpack_encode = msgspec.msgpack.Encoder().encode
_msgpack_decode = msgspec.msgpack.Decoder().decode

# Failures where the server cannot have received the request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def connection_lost(message: str) -> ActorError:
    return ActorError("connection", Code.CONNECTION_LOST, message)


def _maybe_ran(err: ActorError) -> bool:
    """Whether the call that failed with ``err`` may have run on the server."""
    meta = err.metadata if isinstance(err.metadata, dict) else {}
    if meta.get("outcome") == "unknown":
        return True
    if err.code == Code.CONNECTION_LOST:
        return not isinstance(err.__cause__, _NOT_SENT)
    return False


def _worth_retrying(err: ActorError) -> bool:
    """A retryable error, except a call the server could not deliver to the actor's owner:
    the server has retried that itself until the owner's lease ran out."""
    meta = err.metadata if isinstance(err.metadata, dict) else {}
    if not meta.get("retryable"):
        return False
    return err.code != Code.NODE_UNAVAILABLE or meta.get("outcome") == "unknown"


class HttpTransport:
    """Reaches a server at ``url``. ``encoding`` is ``"json"`` (default) or ``"msgpack"``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = 60.0,
        headers: dict[str, str] | None = None,
        encoding: str = "json",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if encoding not in ("json", "msgpack"):
            raise ValueError("encoding must be 'json' or 'msgpack'")
        self.url = url.rstrip("/")
        self._media = MSGPACK if encoding == "msgpack" else JSON
        self._encode = _msgpack_encode if encoding == "msgpack" else _json_encode
        self._headers = dict(headers or {})
        self._body_headers = {"content-type": self._media, "accept": self._media}
        self._timeout = timeout
        self._http = http
        self._owns_http = http is None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(self._timeout),
                headers=self._headers,
                limits=httpx.Limits(max_keepalive_connections=100, max_connections=None),
            )
        return self._http

    async def start(self) -> None:
        self.http  # noqa: B018 — create the pool now

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    # -- requests --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """Send one request; returns the decoded body or raises ``ActorError``."""
        content = None if body is None else self._encode(body)
        headers = self._body_headers if headers is None else {**self._body_headers, **headers}
        response = await self.send(
            method, path, content=content, params=params, headers=headers, idempotent=idempotent
        )
        return self._decode(response)

    async def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a raw request with the retry policy; network failures → ``connection_lost``.

        Once an attempt may have reached the server, the error says so even if later
        attempts could not connect: a retried call never claims it certainly did not run.
        """
        sent: httpx.TransportError | None = None  # an attempt that may have arrived
        for attempt in range(RETRIES + 1):
            try:
                return await self.http.request(method, path, **kwargs)
            except _NOT_SENT as exc:
                failure: httpx.TransportError = exc
            except httpx.TransportError as exc:
                if not idempotent:
                    raise connection_lost(f"{method} {path} failed: {exc!r}") from exc
                failure = sent = exc
            if attempt < RETRIES:
                await asyncio.sleep(_RETRY_DELAY * (attempt + 1))
        if sent is not None:
            raise connection_lost(f"{method} {path} failed: {sent!r}") from sent
        raise connection_lost(f"cannot reach {self.url}: {failure!r}") from failure

    def _decode(self, response: httpx.Response) -> Any:
        data = response.content
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            value = (_msgpack_decode if media == MSGPACK else _json_decode)(data) if data else None
        except msgspec.DecodeError:
            raise ActorError(
                "internal",
                Code.INTERNAL_ERROR,
                f"undecodable {response.status_code} reply from server",
            ) from None
        if response.status_code >= 400:
            raise ActorError.from_wire(value)
        return value

    # -- the AsyncTransport protocol ------------------------------------------------------

    async def resolve(
        self, name: str, key: tuple[str, ...], mode: ResolveMode, input: Any, region: str | None
    ) -> str:
        if mode == "get":
            reply = await self.request(
                "GET",
                "/actors",
                params={"name": name, "key": json.dumps(list(key))},
                idempotent=True,
            )
        else:
            body: dict[str, Any] = {"name": name, "key": list(key)}
            if input is not None:
                body["input"] = input
            if region is not None:
                body["region"] = region
            method = "PUT" if mode == "get_or_create" else "POST"
            reply = await self.request(method, "/actors", body=body, idempotent=method == "PUT")
        return str(reply["actor_id"])

    async def call(
        self,
        actor_id: str,
        action: str,
        args: list[Any],
        params: Any,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run an action. The call carries ``idempotency_key`` (a new random one if not
        given); transport failures and retryable errors are retried with the same key."""
        reply = await self._call(
            f"/actors/{actor_id}/actions/{action}",
            _action_body(args, kwargs),
            None,
            params,
            idempotency_key,
        )
        return reply["output"]

    async def _call(
        self,
        path: str,
        body: dict[str, Any],
        query: dict[str, Any] | None,
        params: Any,
        idempotency_key: str | None,
    ) -> Any:
        headers = {IDEMPOTENCY_HEADER: idempotency_key or uuid.uuid4().hex}
        if params is not None:
            headers[PARAMS_HEADER] = json.dumps(params, separators=(",", ":"))
        uncertain: ActorError | None = None  # an earlier attempt that may have run
        attempt = 0
        while True:
            try:
                return await self.request(
                    "POST", path, body=body, params=query, headers=headers, idempotent=True
                )
            except ActorError as err:
                if _maybe_ran(err):
                    uncertain = err
                if not _worth_retrying(err) or attempt >= RETRIES:
                    # Never report "did not run" when an earlier attempt may have run.
                    if uncertain is not None and not _maybe_ran(err):
                        raise uncertain from uncertain.__cause__
                    raise
            attempt += 1
            await asyncio.sleep(_RETRY_DELAY * attempt)

    async def call_by_key(
        self,
        name: str,
        key: tuple[str, ...],
        create: bool,
        input: Any,
        region: str | None,
        action: str,
        args: list[Any],
        params: Any,
        idempotency_key: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> tuple[str, Any]:
        """Find (with ``create``: or create) ``name[key]`` and run an action on it, in one
        request; returns ``(actor_id, output)``. Retried like ``call``."""
        body = _action_body(args, kwargs)
        if create and input is not None:
            body["input"] = input
        if create and region is not None:
            body["region"] = region
        query = {"key": json.dumps(list(key)), "create": "true" if create else "false"}
        reply = await self._call(
            f"/actors/by-key/{name}/actions/{action}", body, query, params, idempotency_key
        )
        return str(reply["actor_id"]), reply["output"]

    async def destroy(self, actor_id: str) -> None:
        await self.request("DELETE", f"/actors/{actor_id}")

    async def list_actors(
        self, name: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"limit": limit}
        if name is not None:
            query["name"] = name
        if after is not None:
            query["after"] = after
        reply = await self.request("GET", "/actors", params=query, idempotent=True)
        return list(reply["actors"])

    async def fetch(
        self, actor_id: str, path: str, method: str = "GET", **kwargs: Any
    ) -> httpx.Response:
        """Raw HTTP to the actor's ``on_request``; returns the response as is."""
        url = f"/actors/{actor_id}/request/{path.lstrip('/')}"
        idempotent = method.upper() in ("GET", "HEAD")
        return await self.send(method.upper(), url, idempotent=idempotent, **kwargs)


def _action_body(args: list[Any], kwargs: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"args": args}
    if kwargs:
        body["kwargs"] = kwargs
    return body
