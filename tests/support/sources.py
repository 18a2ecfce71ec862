"""Test data sources: real implementations of the source interface with hand-made rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from pepy_pipeline.sources.schema import DOWNLOADS_SCHEMA


def rows_table(rows: list[dict]) -> pa.Table:
    """A table in the canonical schema from dicts with any subset of optional columns."""
    full = []
    for row in rows:
        full.append({
            "file_type": "bdist_wheel", "country_code": "US", "installer": "pip", "python_minor": "3.12",
            "system": "Linux", "ci": False, **row,
        })
    return pa.Table.from_pylist(full, schema=DOWNLOADS_SCHEMA)


class RowsSource:
    """Yields fixed rows per day, in batches of ``batch_rows``."""

    name = "rows"

    def __init__(self, rows_by_day: dict[dt.date, list[dict]], batch_rows: int = 2) -> None:
        self.rows_by_day = rows_by_day
        self.batch_rows = batch_rows

    def describe(self) -> dict[str, str]:
        return {"source": self.name}

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]:
        rows = [{"date": day, **row} for row in self.rows_by_day.get(day, [])]
        if rows:
            yield from rows_table(rows).to_batches(max_chunksize=self.batch_rows)


class FailingSource:
    """Streams ``inner``'s batches, then fails after ``fail_after`` of them (an upstream outage)."""

    name = "failing"

    def __init__(self, inner, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after

    def describe(self) -> dict[str, str]:
        return {"source": self.name}

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]:
        for index, batch in enumerate(self.inner.read_day(day)):
            if index == self.fail_after:
                raise ConnectionError("upstream went away mid-stream")
            yield batch


class FailsOn:
    """``source``, except that its read of ``day`` raises ``error`` (by default a schema change
    upstream: retries used up)."""

    name = "sample"

    def __init__(self, source, day, error: BaseException | None = None) -> None:
        self.source, self.day = source, day
        self.error = error or ValueError("upstream schema changed")

    def describe(self) -> dict[str, str]:
        return self.source.describe()

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]:
        if day == self.day:
            raise self.error
        yield from self.source.read_day(day)


class BatchesSource:
    """Yields the given record batches verbatim (for schema errors)."""

    name = "batches"

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def describe(self) -> dict[str, str]:
        return {"source": self.name}

    def read_day(self, day: dt.date):
        yield from self.batches
