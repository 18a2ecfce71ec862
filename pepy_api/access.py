"""Optional API keys and rate limits (both off by default), as pure ASGI middleware.

Badges, the shields endpoint, health, metrics and docs stay public. The limit is a fixed one-minute
window per *valid* API key, or per client address otherwise (any made-up key counts against the
address: a new key per request gains nothing). With keys on, requests with a missing or wrong key
are counted per address too, and past ``auth_failures_per_minute`` they get 429 instead of 401.
The client address is uvicorn's, after ``X-Forwarded-For`` from trusted proxies only
(``PEPY_FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import hmac
import time

import orjson

PUBLIC_PREFIXES = ("/badge", "/personalized-badge", "/health-check", "/metrics", "/docs", "/openapi.json",
                   "/redoc")


def is_public(path: str) -> bool:
    """Whether ``path`` needs no key: the public prefixes, and exactly ``/v1/projects/{project}/shields``
    (``/v1/projects/shields`` is the summary of a project named "shields", which does)."""
    if path.startswith(PUBLIC_PREFIXES):
        return True
    segments = path.split("/")
    return len(segments) == 5 and segments[1:3] == ["v1", "projects"] and segments[3] != "" and segments[4] == "shields"


async def _reject(send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"message": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class FixedWindow:
    """Counts per client in the current minute. Only the current window is kept, and at most
    ``max_clients`` of its clients (later newcomers share one overflow bucket), so memory stays
    bounded whatever clients send. (A fixed window is all this needs; no library required.)"""

    OVERFLOW = "overflow"

    def __init__(self, limit: int, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.max_clients = max_clients
        self._window = -1
        self._counts: dict[str, int] = {}

    def take(self, client: str, now: float) -> tuple[bool, int]:
        """Count one request; (allowed, remaining) for ``client``."""
        window = int(now // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        if client not in self._counts and len(self._counts) >= self.max_clients:
            client = self.OVERFLOW
        used = self._counts.get(client, 0)
        if used >= self.limit:
            return False, 0
        self._counts[client] = used + 1
        return True, self.limit - used - 1

    def __len__(self) -> int:
        return len(self._counts)

    @staticmethod
    def retry_after(now: float) -> bytes:
        return str(int((now // 60 + 1) * 60 - now) + 1).encode()


class AccessMiddleware:
    def __init__(self, app, keys: frozenset[str], per_minute: int, auth_failures_per_minute: int = 20) -> None:
        self.app = app
        self.keys = tuple(keys)
        self.per_minute = per_minute
        self.requests = FixedWindow(per_minute)
        self.failures = FixedWindow(auth_failures_per_minute)

    def _valid(self, key: str | None) -> bool:
        return key is not None and any(hmac.compare_digest(key, known) for known in self.keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-api-key"), None)
        address = (scope.get("client") or ("unknown",))[0]
        now = time.time()
        valid = self._valid(key)
        if self.keys and not valid:
            allowed, _ = self.failures.take(address, now)
            if not allowed:
                await _too_many(send, now)
                return
            await _reject(send, 401, "a valid X-API-Key header is required", [])
            return
        if not self.per_minute:
            await self.app(scope, receive, send)
            return
        allowed, remaining = self.requests.take(f"key:{key}" if valid else f"ip:{address}", now)
        if not allowed:
            await _too_many(send, now)
            return
        remaining_header = str(remaining).encode()

        async def with_header(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-rate-limit-remaining", remaining_header)]}
            await send(message)

        await self.app(scope, receive, with_header)


async def _too_many(send, now: float) -> None:
    await _reject(send, 429, "rate limit exceeded", [
        (b"x-rate-limit-remaining", b"0"), (b"x-rate-limit-retry-after-seconds", FixedWindow.retry_after(now))])


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
