"""A bound on the request head for uvicorn's httptools protocol, which accepts any size.

uvicorn bounds heads only with its pure-Python h11 protocol (``h11_max_incomplete_event_size``),
which answered a cached badge ~23% slower here (median 1.38 ms against 1.12 ms per request). So the
fast parser is kept and the bytes received before the end of the headers are counted: past the
bound the client gets 431 and the connection is closed, before the head is parsed or stored
(a 64 MB header used to cost 8 s and 563 MB).
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_BODY = orjson.dumps({"message": "request header fields too large"})
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, with at most ``max_head_bytes`` received per request head."""

    max_head_bytes = 64 * 1024

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self.logger.warning("request head over %d bytes: answered 431", self.max_head_bytes)
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                self._in_head = False
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0


def bounded_httptools(max_head_bytes: int) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this bound."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"max_head_bytes": max_head_bytes})
