"""API settings from the environment (``PEPY_*``), sharing the pipeline's warehouse defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEPY_", extra="ignore")

    home: Path = Path(".pepy")
    clickhouse_dsn: str = ""
    database: str = "pepy"
    #: Comma-separated keys. Empty: no key needed. Set: JSON endpoints need ``X-API-Key``.
    api_keys: str = ""
    #: Requests per minute per key (or per client IP without a key); 0 turns limiting off.
    rate_limit_per_minute: int = 0
    #: How often (seconds) to look for a newly published generation / new data.
    refresh_seconds: float = 1.0
    cache_max_bytes: int = 256 * 1024 * 1024
    max_range_days: int = 3660
    cors_origins: str = "*"

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def warehouse_dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.home / 'warehouse'}"

    @property
    def key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
