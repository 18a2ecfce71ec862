"""ASGI middleware: a per-data-version response cache, strong ETags, 304s and freshness headers.

Responses only change when the data does, so a response is cached under
``(data token, path, query)`` and answered from memory until the next load is published. A hit
never reaches routing, validation or the engine: that is how badges and hot projects are served
close to the framework's ceiling.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from starlette.datastructures import Headers

CACHEABLE_STATUS = (200, 404)


class ResponseCache:
    """An LRU of finished responses bounded by total body bytes and by entry count (so a scan
    of random names, cached as small 404s, cannot grow it without bound)."""

    def __init__(self, max_bytes: int, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[tuple, tuple[int, list, bytes]] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._max_entries = max_entries
        self._token: str | None = None

    def get(self, token: str, key: tuple):
        if token != self._token:
            self._entries.clear()
            self._bytes = 0
            self._token = token
            return None
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, token: str, key: tuple, entry: tuple[int, list, bytes]) -> None:
        if token != self._token or len(entry[2]) > self._max // 8:
            return
        self._entries[key] = entry
        self._bytes += len(entry[2])
        while (self._bytes > self._max or len(self._entries) > self._max_entries) and self._entries:
            _, (_, _, body) = self._entries.popitem(last=False)
            self._bytes -= len(body)


def _etag(token: str, path: str, query: bytes) -> bytes:
    digest = hashlib.blake2b(f"{token}\0{path}\0".encode() + query, digest_size=12).hexdigest()
    return f'"{digest}"'.encode()


class CachingMiddleware:
    def __init__(self, app, reader, cache: ResponseCache) -> None:
        self.app = app
        self.reader = reader
        self.cache = cache

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        snap = self.reader.snapshot()
        scope.setdefault("state", {})["snapshot"] = snap
        key = (scope["path"], scope["query_string"])
        hit = self.cache.get(snap.token, key)
        if hit is not None:
            await self._answer(scope, send, hit)
            return

        freshness = (snap.last_complete_day.isoformat() if snap.last_complete_day else "none").encode()
        history_start = (snap.first_complete_day.isoformat() if snap.first_complete_day else "none").encode()
        captured: dict = {"body": []}

        async def capture(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message["headers"], (b"x-data-last-complete-day", freshness),
                           (b"x-data-first-complete-day", history_start)]
                if status == 200:
                    headers.append((b"etag", _etag(snap.token, *key)))
                captured.update(status=status, headers=headers, cacheable=status in CACHEABLE_STATUS)
                if not captured["cacheable"]:
                    await send({**message, "headers": headers})
                return
            if message["type"] == "http.response.body" and captured["cacheable"]:
                captured["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    entry = (captured["status"], captured["headers"], b"".join(captured["body"]))
                    self.cache.put(snap.token, key, entry)
                    await self._answer(scope, send, entry)
                return
            await send(message)

        await self.app(scope, receive, capture)

    @staticmethod
    async def _answer(scope, send, entry) -> None:
        """Send a finished response, or a 304 when the client already has this ETag."""
        status, headers, body = entry
        etag = next((v.decode() for k, v in headers if k == b"etag"), None)
        if etag is not None:
            match = Headers(scope=scope).get("if-none-match")
            if match and (match == "*" or etag in [m.strip() for m in match.split(",")]):
                keep = [(k, v) for k, v in headers if k in (b"etag", b"cache-control", b"x-data-last-complete-day",
                                                               b"x-data-first-complete-day")]
                await send({"type": "http.response.start", "status": 304, "headers": keep})
                await send({"type": "http.response.body", "body": b""})
                return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
