"""Where the warehouse is, from the environment (``PEPY_*``): shared by the pipeline and the API,
so both find the same one."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pepy_warehouse.identifiers import database_name


class WarehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEPY_", extra="ignore")

    home: Path = Path(".pepy")
    clickhouse_dsn: str = ""
    database: str = "pepy"

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("database")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        """Refused here, naming the variable, not at the first SQL statement that embeds it."""
        return database_name(value)

    @property
    def warehouse_dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.home / 'warehouse'}"
