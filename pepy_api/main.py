"""The FastAPI application: routers, error handlers and middleware, wired in one place."""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pepy_api import errors, openapi
from pepy_api.access import AccessMiddleware, TrailingSlashMiddleware
from pepy_api.caching import APP_VERSION, CachingMiddleware, ResponseCache
from pepy_api.compression import IsalGZipMiddleware
from pepy_api.gc_freeze import freeze_long_lived, unfreeze
from pepy_api.observe import Metrics, ObservabilityMiddleware
from pepy_api.routers import badges, pepy, pypistats, stats
from pepy_api.settings import ApiSettings
from pepy_api.store.reader import Reader, open_reader

log = logging.getLogger("pepy_api")

DESCRIPTION = """
Download statistics of Python packages on PyPI, from the public BigQuery download log.

* **pepy.tech compatible**: `/api/v2/projects/{project}`, `/api/projects/{project}`, `/badge/...`,
  `/personalized-badge/...`, the pro-style downloads, `/health-check`.
* **pypistats.org compatible**: `/api/packages/{package}/recent|overall|python_major|python_minor|system`,
  the last 180 days by default (pypistats' range), `start_date`/`end_date` for others, and `__all__` for
  every package together.
* **pepy's own** (`/v1`): breakdowns by version, installer, Python, system, country, CI, file type
  or mirror, per day/week/month, as JSON or CSV; summaries; top projects and search; a shields.io
  endpoint badge.

Project names may be written in any PEP 503 spelling (`Flask_Login` = `flask-login`). Days are UTC;
the header `X-Data-Last-Complete-Day` (and `last_complete_day` in pepy's own bodies) tells the
newest complete day loaded, `X-Data-First-Complete-Day` (`first_complete_day`) from which day the
daily history is complete. Totals (`total_downloads`, badges) are all-time: they include an
opening balance for the downloads before the first loaded day.
Responses carry a strong `ETag` (data version and API version); send
`If-None-Match` (weak validators match too) to get a 304. Every GET also answers HEAD; large bodies
are gzip-compressed for clients that accept it.
Errors are JSON `{"message": ...}`: 400 malformed input, 401 missing API key (when keys are on),
404 unknown project, 429 rate limited, 503 before the first load. Operators: Prometheus metrics on
`/metrics`.
"""


class _ReaderProxy:
    """Lets the caching middleware reach the reader the lifespan opens later."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def snapshot(self):
        return self._app.state.reader.snapshot()


def create_app(settings: ApiSettings | None = None, reader: Reader | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        own = reader is None
        app.state.reader = reader or open_reader(settings.warehouse_dsn, settings.database, settings.refresh_seconds)
        app.state.reader.start_refreshing()
        frozen = freeze_long_lived()
        log.info("%d long-lived objects frozen out of the garbage collector's full passes", frozen)
        try:
            yield
        finally:
            unfreeze()
            if own:
                app.state.reader.close()

    app = FastAPI(title="pepy API", version=APP_VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    routers = (pepy.router, badges.router, pypistats.router, stats.router)
    for router in routers:
        app.include_router(router)

    # Added innermost first: observability sees everything, then the trailing-slash rewrite runs.
    # gzip sits outside the cache, so cached bodies stay uncompressed and serve every client.
    reader_proxy = _ReaderProxy(app)
    app.add_middleware(CachingMiddleware, reader=reader_proxy, cache=ResponseCache(settings.cache_max_bytes),
                       gzip_min_bytes=settings.gzip_min_bytes, render_settings=settings.render_settings)
    # ISA-L level 1: a big project's 2.8 MB v2 body in 8 ms (zlib level 4: 63 ms) to 33% of its size.
    app.add_middleware(IsalGZipMiddleware, minimum_size=settings.gzip_min_bytes, compresslevel=settings.gzip_level)
    if settings.key_set or settings.rate_limit_per_minute:
        app.add_middleware(AccessMiddleware, keys=settings.key_set, per_minute=settings.rate_limit_per_minute,
                           auth_failures_per_minute=settings.auth_failures_per_minute)
    app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                       allow_methods=["GET", "HEAD"], allow_headers=["*"],
                       expose_headers=["ETag", "X-Data-Last-Complete-Day", "X-Data-First-Complete-Day", "X-Rate-Limit-Remaining",
                                       "X-Rate-Limit-Retry-After-Seconds"])
    app.add_middleware(TrailingSlashMiddleware)
    app.add_middleware(ObservabilityMiddleware, metrics=Metrics(reader_proxy) if settings.metrics else None,
                       log_requests=settings.access_log,
                       routes=[route for router in routers for route in router.routes])
    return app
