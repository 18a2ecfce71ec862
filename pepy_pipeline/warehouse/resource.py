"""The Dagster resource wrapping the warehouse: one class for chDB and for a ClickHouse server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from dagster import ConfigurableResource
from pydantic import Field, field_validator

from pepy_pipeline.warehouse.day_checks import VolumeBands
from pepy_pipeline.warehouse.migrations import migrate
from pepy_pipeline.warehouse.priority import lower_cpu_priority, lower_session_priority
from pepy_pipeline.warehouse.staging import drop_stale
from pepy_warehouse.connection import connected, embedded_path, is_embedded
from pepy_warehouse.generation import remove_old_generations
from pepy_warehouse.identifiers import database_name
from pepy_warehouse.locks import embedded_writer_lock

log = logging.getLogger(__name__)
#: Longest single statement we run (a big day's rollups on a server): the client's timeouts fit it.
STATEMENT_TIMEOUT_SECONDS = 3600


class ClickHouseWarehouse(ConfigurableResource):
    """ClickHouse reached through clickhouse-connect.

    The client is opened inside the step that uses it and closed at its end (never at import or
    resource setup): an embedded chDB directory may be open in one process at a time, and every
    writer first takes the directory's writer lock, waiting (with a message) for another writer.
    """

    dsn: str = Field(description="chdb:///abs/dir for the embedded engine, or http(s)://user:pw@host:8123")
    database: str = Field(default="pepy", description="Database holding the pepy tables")
    insert_workers: int = Field(default=2, ge=1, le=16, description="Parallel inserts while loading a day")
    volume_fail_below: float = Field(default=0.5, description="refuse a day under this share of its weekday median")
    volume_warn_below: float = Field(default=0.8, description="warn for a day under this share of its weekday median")
    volume_warn_above: float = Field(default=1.5, description="warn for a day over this multiple of its weekday median")
    volume_fail_above: float = Field(default=3.0, description="refuse a day over this multiple of its weekday median")
    volume_reload_fail_below: float = Field(default=0.98, description=(
        "refuse a reload with fewer downloads than this share of what the day already has (0: off)"))
    writer_nice: int = Field(default=10, ge=0, le=19, description=(
        "embedded: the writer's process runs at this nice value, below the API on the same cores "
        "(0: unchanged). A publish at real size otherwise took a core from the API's requests"))
    writer_session: bool = Field(default=False, description=(
        "embedded: a writer without a terminal moves into a session of its own whose autogroup runs "
        "at writer_nice (nice counts only within a session where the kernel groups by session). "
        "On in the code location and the CLI; off by default for in-process use (tests, notebooks), "
        "where leaving the caller's session would surprise it"))

    @field_validator("database")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        """Refused in the launchpad, not at the first SQL statement that embeds it."""
        return database_name(value)

    @property
    def embedded(self) -> bool:
        return is_embedded(self.dsn)

    @property
    def data_path(self):
        """The chDB data directory (embedded mode only)."""
        return embedded_path(self.dsn)

    def volume_bands(self) -> VolumeBands:
        return VolumeBands(fail_below=self.volume_fail_below, warn_below=self.volume_warn_below,
                           warn_above=self.volume_warn_above, fail_above=self.volume_fail_above,
                           reload_fail_below=self.volume_reload_fail_below)

    @contextlib.contextmanager
    def connect(self, what: str = "a writer", report: Callable[[str], None] | None = None) -> Iterator:
        """A client with the schema migrated, closed when the block ends. Embedded: holds the
        writer lock meanwhile and first removes what killed writers left behind."""
        with contextlib.ExitStack() as stack:
            if self.embedded:
                if self.writer_session:
                    log.info("writer priority: %s", lower_session_priority(self.writer_nice))
                lower_cpu_priority(self.writer_nice)
                stack.enter_context(embedded_writer_lock(self.data_path, what, report=report))
            client = stack.enter_context(connected(self.dsn, **self._timeouts()))
            migrate(client, self.database)
            if self.embedded:
                lower_cpu_priority(self.writer_nice)  # the engine raises its MemoryWorker (as root)
                # One writer at a time here: any staging table or manifest-less generation is a leftover.
                drop_stale(client, self.database)
                remove_old_generations(self.data_path)
            yield client

    @contextlib.contextmanager
    def insert_clients(self) -> Iterator[list]:
        """Extra clients (``insert_workers - 1``) for parallel inserts; same engine in chDB."""
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(connected(self.dsn, **self._timeouts())) for _ in range(self.insert_workers - 1)]

    def _timeouts(self) -> dict:
        return {} if self.embedded else {"send_receive_timeout": STATEMENT_TIMEOUT_SECONDS}
