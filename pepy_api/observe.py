"""What operators see: one access-log line per request and Prometheus metrics on ``/metrics``.

The outermost middleware times every request (rejected ones too) and hands inner middleware a
small dict in the scope (:func:`note`) where the response cache records hit or miss and the
route template: a cache hit never reaches routing, so the cache remembers each entry's route.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from starlette.routing import Match, Route

access_log = logging.getLogger("pepy_api.access")

_NOTE = "pepy.observe"
#: Methods named as such in metrics; anything else (clients may send any token) is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Generation names (``g20261125T043512_ab12cd``) and server tokens start with when they were built.
_BUILT_AT = (re.compile(r"^g(\d{8}T\d{6})_"), re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})"))


def note(scope, **facts) -> None:
    """Record ``facts`` (``cache``, ``route``) for this request's log line and metrics."""
    observed = scope.get(_NOTE)
    if observed is not None:
        observed.update(facts)


def built_at(token: str) -> dt.datetime | None:
    """When the served data version was built, read from its token (None if it does not say)."""
    for pattern, layout in zip(_BUILT_AT, ("%Y%m%dT%H%M%S", "%Y-%m-%d %H:%M:%S")):
        found = pattern.match(token)
        if found:
            return dt.datetime.strptime(found.group(1), layout).replace(tzinfo=dt.timezone.utc)
    return None


class DataCollector:
    """Facts about the served data, read from the current snapshot at each scrape."""

    def __init__(self, reader) -> None:
        self.reader = reader

    def collect(self):
        snap = self.reader.snapshot()
        info = InfoMetricFamily("pepy_data_version", "The data version being served")
        info.add_metric([], {"version": snap.token})
        yield info
        day = GaugeMetricFamily("pepy_data_last_complete_day_timestamp_seconds",
                                "The last complete day served (its midnight UTC, Unix seconds)")
        if snap.last_complete_day:
            midnight = dt.datetime.combine(snap.last_complete_day, dt.time(), dt.timezone.utc)
            day.add_metric([], midnight.timestamp())
        yield day
        age = GaugeMetricFamily("pepy_data_generation_age_seconds",
                                "Seconds since the served generation (or server data version) was built")
        built = built_at(snap.token)
        if built:
            age.add_metric([], time.time() - built.timestamp())
        yield age
        projects = GaugeMetricFamily("pepy_data_projects", "Projects in the served data")
        projects.add_metric([], len(snap.totals))
        yield projects


class Metrics:
    """The API's Prometheus registry (one per app, so several apps in a process do not clash)."""

    def __init__(self, reader) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("pepy_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("pepy_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route", "status"], buckets=_BUCKETS, registry=self.registry)
        self.cache = Counter("pepy_response_cache", "Cacheable requests by result (hit or miss)",
                             ["result"], registry=self.registry)
        self.registry.register(DataCollector(reader))

    def observe(self, method: str, route: str, status: int, seconds: float, cache: str | None) -> None:
        labels = (method if method in _METHODS else "other", route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
        if cache:
            self.cache.labels(cache).inc()


class ObservabilityMiddleware:
    """Outermost: times each request, logs it, counts it, and serves ``/metrics``."""

    def __init__(self, app, metrics: Metrics | None, log_requests: bool, routes=()) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        #: The API's routes: a request refused before routing (401, 429) is still counted under
        #: its route's template, not as "unmatched".
        self.routes = tuple(routes)

    def _template(self, scope) -> str:
        # As routing would see it: the trailing slash dropped (TrailingSlashMiddleware), HEAD as GET.
        probe = {**scope, "path": scope["path"].rstrip("/") or "/",
                 "method": "GET" if scope["method"] == "HEAD" else scope["method"]}
        for route in self.routes:
            if isinstance(route, Route) and route.matches(probe)[0] == Match.FULL:
                return route.path
        return "unmatched"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.metrics is not None and scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            await self._serve_metrics(scope, send)
            return
        started = time.perf_counter()
        observed = {"status": 500}
        scope[_NOTE] = observed

        async def watch(message):
            if message["type"] == "http.response.start":
                observed["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - started
            route = observed.get("route") or self._template(scope)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, observed["status"], seconds, observed.get("cache"))
            if self.log_requests:
                # raw_path is still percent-encoded: no control characters reach the log.
                target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
                if scope.get("query_string"):
                    target += "?" + scope["query_string"].decode("latin-1")
                access_log.info("%s %s %d %.1fms %s", scope["method"][:16], target[:300], observed["status"],
                                seconds * 1000, observed.get("cache", "-"))

    async def _serve_metrics(self, scope, send) -> None:
        body = generate_latest(self.metrics.registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode()),
                                (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
