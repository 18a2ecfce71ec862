"""The source interface: anything that can stream one UTC day of downloads as Arrow batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import pyarrow as pa


@runtime_checkable
class DownloadSource(Protocol):
    """A day-at-a-time producer of rows in :data:`pepy_pipeline.sources.schema.DOWNLOADS_SCHEMA`.

    ``read_day`` must be restartable: reading the same day twice yields the same rows, so a
    failed load can simply be retried.
    """

    name: str

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]: ...

    def describe(self) -> dict[str, str]:
        """Facts about the source worth recording as run metadata."""
        ...
