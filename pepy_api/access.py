"""Optional API keys and rate limits (both off by default), as pure ASGI middleware.

Badges, health and docs stay public. The limit is a fixed one-minute window per API key, or per
client IP for requests without one; every limited response says how many requests remain.
"""

from __future__ import annotations

import time

import orjson

PUBLIC_PREFIXES = ("/badge", "/personalized-badge", "/health-check", "/docs", "/openapi.json", "/redoc")


async def _reject(send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"message": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    def __init__(self, app, keys: frozenset[str], per_minute: int) -> None:
        self.app = app
        self.keys = keys
        self.per_minute = per_minute
        self._windows: dict[str, tuple[int, int]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-api-key"), None)
        if self.keys and key not in self.keys:
            await _reject(send, 401, "a valid X-API-Key header is required", [])
            return
        if not self.per_minute:
            await self.app(scope, receive, send)
            return
        client = f"key:{key}" if key else f"ip:{(scope.get('client') or ('unknown',))[0]}"
        window = int(time.time() // 60)
        start, used = self._windows.get(client, (window, 0))
        if start != window:
            start, used = window, 0
        if used >= self.per_minute:
            retry = str(int((window + 1) * 60 - time.time()) + 1).encode()
            await _reject(send, 429, "rate limit exceeded", [
                (b"x-rate-limit-remaining", b"0"), (b"x-rate-limit-retry-after-seconds", retry)])
            return
        if len(self._windows) > 100_000:  # forget clients of past windows
            self._windows = {c: w for c, w in self._windows.items() if w[0] == window}
        self._windows[client] = (start, used + 1)
        remaining = str(self.per_minute - used - 1).encode()

        async def with_header(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-rate-limit-remaining", remaining)]}
            await send(message)

        await self.app(scope, receive, with_header)


class TrailingSlashMiddleware:
    """``/badge/requests/`` answers like ``/badge/requests`` (no redirect: badge proxies may not follow)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = {**scope, "path": path.rstrip("/") or "/",
                         "raw_path": scope.get("raw_path", b"").rstrip(b"/") or b"/"}
        await self.app(scope, receive, send)
