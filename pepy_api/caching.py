"""ASGI middleware: a per-data-version response cache, ETags, 304s, HEAD and freshness headers.

Responses only change when the data does, so a response is cached under
``(data token, path, query)`` and answered from memory until the next load is published. A hit
never reaches routing, validation or the engine: that is how badges and hot projects are served
close to the framework's ceiling. HEAD is answered as the GET without its body, hit or miss.
Bodies are cached uncompressed (gzip sits outside this middleware).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from starlette.datastructures import Headers

from pepy_api.observe import note

CACHEABLE_STATUS = (200, 404)

try:
    APP_VERSION = version("pepy")
except PackageNotFoundError:  # running from a source tree that was never installed
    APP_VERSION = "source"

#: The code that turns data into answers: the API and the warehouse layer it reads through.
RENDERING_PACKAGES = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "pepy_warehouse")


def code_fingerprint(packages=RENDERING_PACKAGES) -> str:
    """A digest of every source file of ``packages``: a new release may render the same data
    differently, and the package version alone never changed between releases, so a client's
    stale body from the last release revalidated as a 304 (found by an upgrade probe)."""
    digest = hashlib.blake2b(digest_size=8)
    for package in packages:
        for path in sorted(package.rglob("*")):
            if path.suffix in (".py", ".sql") and path.is_file():
                digest.update(f"{path.relative_to(package.parent)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: Libraries whose output is part of a body (JSON encoding, country names).
RENDERING_LIBRARIES = ("orjson", "pycountry")

#: Part of every ETag, with the data's token (and the settings that shape bodies, per app).
RENDER_VERSION = "+".join([APP_VERSION, code_fingerprint(),
                           *(f"{library}{version(library)}" for library in RENDERING_LIBRARIES)])


class ResponseCache:
    """An LRU of finished responses bounded by total body bytes and by entry count (so a scan
    of random names, cached as small 404s, cannot grow it without bound)."""

    def __init__(self, max_bytes: int, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[tuple, tuple[int, list, bytes, str]] = OrderedDict()
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

    def put(self, token: str, key: tuple, entry: tuple[int, list, bytes, str]) -> None:
        if token != self._token or len(entry[2]) > self._max // 8:
            return
        self._entries[key] = entry
        self._bytes += len(entry[2])
        while (self._bytes > self._max or len(self._entries) > self._max_entries) and self._entries:
            _, (_, _, body, _) = self._entries.popitem(last=False)
            self._bytes -= len(body)


def _etag(render_version: str, token: str, path: str, query: bytes) -> bytes:
    digest = hashlib.blake2b(f"{render_version}\0{token}\0{path}\0".encode() + query, digest_size=12).hexdigest()
    return f'"{digest}"'.encode()


#: Appended inside a strong ETag when its body goes out gzip-compressed (by ``pepy_api.compression``):
#: RFC 9110 wants a strong validator to differ between two encodings of a response, and one ETag
#: served both (found by a spec audit). A client revalidating either form gets its 304.
GZIP_SUFFIX = "-gzip"


def gzip_etag(etag: str) -> str:
    """The ETag of ``etag``'s response sent gzip-compressed."""
    return f'{etag[:-1]}{GZIP_SUFFIX}"' if etag.endswith('"') and not etag.endswith(f'{GZIP_SUFFIX}"') else etag


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison: ``W/"x"`` matches ``"x"`` (proxies weaken ETags when they compress)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def _with_vary(headers: list, value: bytes) -> list:
    """``headers`` with ``value`` in their ``Vary``."""
    vary = [v for k, v in headers if k == b"vary"]
    merged = b", ".join(vary + [value]) if not any(value.lower() in v.lower() for v in vary) else b", ".join(vary)
    return [*(h for h in headers if h[0] != b"vary"), (b"vary", merged)]


def _route_template(scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class CachingMiddleware:
    def __init__(self, app, reader, cache: ResponseCache, gzip_min_bytes: int | None = None,
                 render_settings: str = "") -> None:
        self.app = app
        self.reader = reader
        self.cache = cache
        #: ``render_settings``: the settings that shape bodies (the default range's length): a
        #: changed one must not revalidate a body it would now render otherwise (found by a probe).
        self.render_version = f"{RENDER_VERSION}+{render_settings}"
        #: The gzip layer's threshold (``pepy_api.compression``), None without one: a 304 and a
        #: HEAD carry the ETag and encoding the GET would (found in review: HEAD said plain
        #: where GET sent gzip, and a 304 answered whichever tag the client listed first).
        self.gzip_min_bytes = gzip_min_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        snap = self.reader.snapshot()
        scope.setdefault("state", {})["snapshot"] = snap
        key = (scope["path"], scope["query_string"])
        hit = self.cache.get(snap.token, key)
        if hit is not None:
            note(scope, cache="hit", route=hit[3])
            await self._answer(scope, send, hit, b"hit")
            return

        head = scope["method"] == "HEAD"
        inner = {**scope, "method": "GET"} if head else scope  # routes are GET; HEAD drops the body
        freshness = (snap.last_complete_day.isoformat() if snap.last_complete_day else "none").encode()
        history_start = (snap.first_complete_day.isoformat() if snap.first_complete_day else "none").encode()
        captured: dict = {"body": []}

        async def capture(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message["headers"], (b"x-data-last-complete-day", freshness),
                           (b"x-data-first-complete-day", history_start)]
                if status == 200:
                    headers.append((b"etag", _etag(self.render_version, snap.token, *key)))
                captured.update(status=status, headers=headers, cacheable=status in CACHEABLE_STATUS)
                if not captured["cacheable"]:
                    await send({**message, "headers": [*headers, (b"x-cache", b"miss")]})
                return
            if message["type"] == "http.response.body" and captured["cacheable"]:
                captured["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    entry = (captured["status"], captured["headers"], b"".join(captured["body"]),
                             _route_template(inner))
                    self.cache.put(snap.token, key, entry)
                    await self._answer(scope, send, entry, b"miss")
                return
            if message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        note(scope, cache="miss")
        await self.app(inner, receive, capture)
        note(scope, route=_route_template(inner))

    async def _answer(self, scope, send, entry, cache: bytes) -> None:
        """Send a finished response, or a 304 when the client already has this ETag. The one
        place that decides a response's ETag form: the gzip-compressed body gets its own."""
        status, headers, body, _ = entry
        request = Headers(scope=scope)
        compressible = self.gzip_min_bytes is not None and len(body) >= self.gzip_min_bytes
        compressed = compressible and "gzip" in request.get("accept-encoding", "")  # the gzip layer's rule
        etag = next((v.decode() for k, v in headers if k == b"etag"), None)
        if etag is not None and compressed:
            headers = [(k, gzip_etag(etag).encode() if k == b"etag" else v) for k, v in headers]
        # The gzip layer adds Vary to the GETs it may compress, never to a 304 or a HEAD (no body).
        varied = _with_vary(headers, b"Accept-Encoding") if compressible else headers
        sent = next((v.decode() for k, v in headers if k == b"etag"), None)
        match = request.get("if-none-match")
        if sent is not None and match and etag_matches(match, sent):
            keep = [(k, v) for k, v in varied if k in (b"etag", b"cache-control", b"vary", b"x-data-last-complete-day",
                                                         b"x-data-first-complete-day")]
            await send({"type": "http.response.start", "status": 304, "headers": [*keep, (b"x-cache", cache)]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["method"] == "HEAD" and compressed:  # the GET's headers; its compressed length is unknown
            headers = [*(h for h in varied if h[0] != b"content-length"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"x-cache", cache)]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
