"""API settings from the environment (``PEPY_*``), sharing the pipeline's warehouse defaults."""

from __future__ import annotations

from pepy_warehouse.settings import WarehouseSettings


class ApiSettings(WarehouseSettings):
    #: Comma-separated keys. Empty: no key needed. Set: JSON endpoints need ``X-API-Key``.
    api_keys: str = ""
    #: Requests per minute per key (or per client IP without a key); 0 turns limiting off.
    rate_limit_per_minute: int = 0
    #: How often (seconds) to look for a newly published generation / new data.
    refresh_seconds: float = 1.0
    cache_max_bytes: int = 256 * 1024 * 1024
    max_range_days: int = 3660
    cors_origins: str = "*"

    @property
    def key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
