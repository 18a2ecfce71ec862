"""API settings from the environment (``PEPY_*``), sharing the pipeline's warehouse defaults."""

from __future__ import annotations

from pydantic import Field

from pepy_warehouse.settings import WarehouseSettings


class ApiSettings(WarehouseSettings):
    #: Comma-separated keys. Empty: no key needed. Set: JSON endpoints need ``X-API-Key``.
    api_keys: str = ""
    #: Requests per minute per valid key (or per client address otherwise); 0 turns limiting off.
    rate_limit_per_minute: int = 0
    #: Requests with a missing or wrong key allowed per client address and minute (keys on) before 429.
    auth_failures_per_minute: int = 20
    #: Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    #: (uvicorn's ``forwarded_allow_ips``): comma-separated IPs or networks, or ``*``.
    forwarded_allow_ips: str = "127.0.0.1"
    #: One log line per request (method, path, status, latency, cache hit or miss).
    access_log: bool = True
    #: Serve Prometheus metrics on ``/metrics`` (public: restrict it at the proxy if needed).
    metrics: bool = True
    #: Largest request head (request line and headers) accepted, in bytes.
    max_header_bytes: int = 64 * 1024
    #: Responses at least this large are gzip-compressed for clients that accept it.
    gzip_min_bytes: int = 1400
    #: gzip level, ISA-L's 0 (fastest) to 3 (smallest); 1 compresses a 2.8 MB answer in ~8 ms.
    gzip_level: int = Field(default=1, ge=0, le=3)
    #: How often (seconds) to look for a newly published generation / new data.
    refresh_seconds: float = 1.0
    #: Response cache bound (bodies). 128 MiB: at real size the API holds ~600 MB without it, and a
    #: full 256 MiB cache of multi-megabyte v2 answers took the process past 1 GB.
    cache_max_bytes: int = 128 * 1024 * 1024
    #: The longest range one answer may span, in days (a longer one asked for is a 400; the default
    #: "all history" is its last max_range_days days).
    max_range_days: int = Field(default=3660, ge=180)  # pypistats' default range is 180 days
    cors_origins: str = "*"

    @property
    def render_settings(self) -> str:
        """The settings that change a body's bytes (the default range's length; the gzip form's
        level), not only its headers: part of every ETag."""
        return f"max_range_days={self.max_range_days},gzip_level={self.gzip_level}"

    @property
    def key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
