"""The source interface: anything that can stream one UTC day of downloads as Arrow batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import pyarrow as pa

#: The last this many complete days may still receive late rows upstream: yesterday and the
#: schedule's look-back (``reload_policy.LOOKBACK_DAYS``, 7), watched for changes and reloaded.
#: An opening balance must count none of them (a day it covers can never be loaded).
STILL_CHANGING_DAYS = 8


def latest_balance_stop(today: dt.date | None = None) -> dt.date:
    """The latest day an opening balance may stop before: it counts none of the last
    ``STILL_CHANGING_DAYS`` days (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return today - dt.timedelta(days=STILL_CHANGING_DAYS)


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
