"""uvicorn's httptools protocol with a cap on a request's head (request line + headers).

httptools keeps a request's headers in memory however long they grow (h11 has
``h11_max_incomplete_event_size``; httptools nothing): a client could send megabytes of
header lines on every connection. This protocol counts the bytes that arrive while a head
is incomplete and answers ``431`` (``message_too_large``) before feeding the parser a head
that would pass ``MAX_REQUEST_HEAD_BYTES``. Imported only when httptools is installed.

A WebSocket upgrade is parsed once more by the ``websockets`` library, whose limits are
tighter (a line of ``MAX_LINE_LENGTH`` bytes, ``MAX_NUM_HEADERS`` headers); past them it
never answered, so the socket hung. Such an upgrade gets the same ``431``.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS

from actorkit.server.run import MAX_REQUEST_HEAD_BYTES

__all__ = ["BoundedHttpToolsProtocol"]


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses a head over ``MAX_REQUEST_HEAD_BYTES``."""

    # Bytes of the head being received; None from the end of a head to the end of its body.
    _head_bytes: int | None = 0
    _tail = b""  # the last bytes of the head so far (its blank line may span two reads)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_bytes, self._tail = 0, b""
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # Lines as the websockets library reads them: with CRLF, the request line with
        # "GET " and " HTTP/1.1".
        request_line = len(self.url) + 15
        longest = max([request_line, *(len(n) + len(v) + 4 for n, v in self.headers)])
        if longest > MAX_LINE_LENGTH or len(self.headers) > MAX_NUM_HEADERS:
            self._refuse(
                f"a WebSocket upgrade's lines are limited to {MAX_LINE_LENGTH} bytes "
                f"and {MAX_NUM_HEADERS} headers",
                MAX_LINE_LENGTH,
            )
            return
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is not None:
            end = (self._tail + data).find(b"\r\n\r\n")
            size = len(data) if end < 0 else end + 4 - len(self._tail)
            if self._head_bytes + size > MAX_REQUEST_HEAD_BYTES:
                self._refuse()  # before the parser keeps any of it
                return
            self._head_bytes += size
            self._tail = (self._tail + data)[-3:]
        super().data_received(data)

    def _refuse(self, message: str | None = None, limit: int = MAX_REQUEST_HEAD_BYTES) -> None:
        body = json.dumps(
            {
                "group": "request",
                "code": "message_too_large",
                "message": message or f"request line and headers are over {limit} bytes",
                "metadata": {"limit": limit},
            }
        ).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
