"""Who may use the inspector: dev mode, or a bearer token compared in constant time.

- Dev mode without a token: open (it is your machine) — to pages of its own origin, reached
  by a name that only this machine can mean: ``localhost``, ``*.localhost``, or an IP
  address (with any port), plus the names in ``ACTORKIT_ALLOWED_HOSTS`` (comma-separated;
  ``*.example.com`` allows subdomains, ``*`` any host). Any other ``Host`` is refused
  (``forbidden``, ``metadata.reason`` = ``"host_not_allowed"``): otherwise a web page whose
  DNS name is re-pointed at 127.0.0.1 (DNS rebinding) is "same-origin" with the server and
  could drive it, the Python console included.
- ``ACTORKIT_INSPECTOR_TOKEN`` set (any mode): every API request and the live WebSocket must
  carry the token. HTTP: ``Authorization: Bearer <token>``. WebSocket (browsers cannot set
  headers): the same header, or the subprotocol ``actorkit.token.<base64url(token)>``, or
  the query parameter ``?token=<token>``.
- Neither: the inspector is not mounted at all (404).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from actorkit.errors import ActorError, Code

__all__ = [
    "ENV_ALLOWED_HOSTS",
    "ENV_TOKEN",
    "SUBPROTOCOL",
    "TOKEN_SUBPROTOCOL_PREFIX",
    "InspectorAccess",
    "check_origin",
]

ENV_TOKEN = "ACTORKIT_INSPECTOR_TOKEN"
#: Extra host names a token-less dev server answers the inspector on (comma-separated).
ENV_ALLOWED_HOSTS = "ACTORKIT_ALLOWED_HOSTS"
SUBPROTOCOL = "actorkit.inspector"
TOKEN_SUBPROTOCOL_PREFIX = "actorkit.token."


def unauthorized(message: str) -> ActorError:
    return ActorError("inspector", Code.UNAUTHORIZED, message)


@dataclass(frozen=True, slots=True)
class InspectorAccess:
    """The inspector's access policy, fixed when the app is built."""

    dev: bool
    token: str | None
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, dev: bool) -> InspectorAccess:
        hosts = os.environ.get(ENV_ALLOWED_HOSTS, "").split(",")
        allowed = tuple(h.strip().lower().rstrip(".") for h in hosts if h.strip())
        return cls(dev=dev, token=os.environ.get(ENV_TOKEN) or None, allowed_hosts=allowed)

    @property
    def enabled(self) -> bool:
        return self.dev or self.token is not None

    @property
    def console(self) -> bool:
        """The Python console: dev mode only, token or not."""
        return self.dev

    def check(self, conn: HTTPConnection) -> None:
        """Raise ``unauthorized`` unless ``conn`` (a request or WebSocket) carries the token;
        without a token, ``forbidden`` unless its ``Host`` is allowed (see above)."""
        if self.token is None:
            self._check_host(conn)
            return
        offered = _bearer(conn)
        if offered is None and conn.scope["type"] == "websocket":
            offered = _subprotocol_token(conn) or conn.query_params.get("token")
        if offered is None:
            raise unauthorized("the inspector needs a token: Authorization: Bearer <token>")
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            raise unauthorized("wrong inspector token")

    def _check_host(self, conn: HTTPConnection) -> None:
        raw = conn.headers.get("host")
        if raw is None:  # not a browser: every browser request names its host
            return
        host = _host_name(raw)
        if _host_allowed(host, self.allowed_hosts):
            return
        raise ActorError(
            "inspector",
            Code.FORBIDDEN,
            f"the inspector of a dev server without a token answers only on localhost; "
            f"host {host!r} is not allowed (add it to {ENV_ALLOWED_HOSTS}, or set "
            f"{ENV_TOKEN})",
            {"reason": "host_not_allowed", "host": host},
        )


def _host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, without port or trailing dot."""
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:6420
        return host[: host.find("]") + 1] if "]" in host else host
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        host = name
    return host.rstrip(".")


def _host_allowed(host: str, extra: tuple[str, ...] = ()) -> bool:
    """Loopback names and IP addresses (DNS rebinding needs a DNS name), or one of
    ``extra`` (``name``, ``*.suffix``, ``*``)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        return True
    except ValueError:
        pass
    for allowed in extra:
        if allowed in ("*", host):
            return True
        if allowed.startswith("*.") and host.endswith(allowed[1:]):
            return True
    return False


def check_origin(conn: HTTPConnection) -> None:
    """Refuse a browser request made by a page of another origin (``forbidden``).

    A dev server on localhost needs no token, so without this any web page the developer
    visits could drive it: CORS does not cover WebSockets, nor a body-less ``POST``.
    Non-browser clients send no ``Origin`` and pass.
    """
    origin = conn.headers.get("origin")
    if origin is None:
        return
    netloc = urlsplit(origin).netloc.lower()
    # Behind a reverse proxy that rewrites Host, the browser-facing host is forwarded.
    hosts = {conn.headers.get("host", ""), conn.headers.get("x-forwarded-host", "")}
    if netloc not in {h.lower() for h in hosts if h}:
        raise ActorError(
            "inspector", Code.FORBIDDEN, f"cross-origin inspector request from {origin!r}"
        )


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _subprotocol_token(conn: HTTPConnection) -> str | None:
    raw = conn.headers.get("sec-websocket-protocol", "")
    for proto in (p.strip() for p in raw.split(",")):
        if proto.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            encoded = proto[len(TOKEN_SUBPROTOCOL_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None
