"""The Dagster resource wrapping the warehouse: one class for chDB and for a ClickHouse server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dagster import ConfigurableResource
from pydantic import Field

from pepy_pipeline.warehouse.connection import connected, embedded_path, is_embedded
from pepy_pipeline.warehouse.migrations import migrate


class ClickHouseWarehouse(ConfigurableResource):
    """ClickHouse reached through clickhouse-connect.

    The client is opened inside the step that uses it and closed at its end (never at import or
    resource setup): an embedded chDB directory may be open in one process at a time.
    """

    dsn: str = Field(description="chdb:///abs/dir for the embedded engine, or http(s)://user:pw@host:8123")
    database: str = Field(default="pepy", description="Database holding the pepy tables")
    insert_workers: int = Field(default=2, ge=1, le=16, description="Parallel inserts while loading a day")

    @property
    def embedded(self) -> bool:
        return is_embedded(self.dsn)

    @property
    def data_path(self):
        """The chDB data directory (embedded mode only)."""
        return embedded_path(self.dsn)

    @contextlib.contextmanager
    def connect(self) -> Iterator:
        """A client with the schema migrated, closed when the block ends."""
        with connected(self.dsn) as client:
            migrate(client, self.database)
            yield client

    @contextlib.contextmanager
    def insert_clients(self) -> Iterator[list]:
        """Extra clients (``insert_workers - 1``) for parallel inserts; same engine in chDB."""
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(connected(self.dsn)) for _ in range(self.insert_workers - 1)]
