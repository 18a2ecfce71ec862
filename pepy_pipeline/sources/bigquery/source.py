"""BigQuerySource: streams one aggregated day from the PyPI download table as Arrow batches."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from google.api_core import exceptions as google_errors
from google.api_core.retry import Retry
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

from pepy_pipeline.sources.base import STILL_CHANGING_DAYS, latest_balance_stop
from pepy_pipeline.sources.bigquery.clients import BigQueryConnection
from pepy_pipeline.sources.bigquery.cost import BALANCE_CAP_SETTING, check_estimate, job_metadata

log = logging.getLogger("pepy_pipeline.bigquery")
PRODUCTION_TABLE = "bigquery-public-data.pypi.file_downloads"
_TABLE_ID = re.compile(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
#: Transient errors (rate limits, 5xx, dropped connections) are retried with backoff for 10 min.
API_RETRY: Retry = DEFAULT_RETRY.with_deadline(600)


class BigQuerySourceError(RuntimeError):
    """BigQuery refused the work for a reason retrying will not fix; carries upstream's message."""


@functools.cache
def _sql(name: str) -> str:
    return (Path(__file__).parent / name).read_text()


class BigQuerySource:
    """One parameterised query per day, dry-run first, capped, streamed via the Storage Read API
    (falling back to REST paging, with a log line, when that API is unavailable)."""

    name = "bigquery"

    def __init__(self, connection: BigQueryConnection, maximum_bytes_billed: int,
                 table: str = PRODUCTION_TABLE, use_storage_api: bool = True) -> None:
        if not _TABLE_ID.match(table):
            raise ValueError(f"not a BigQuery table id (project.dataset.table): {table!r}")
        if maximum_bytes_billed < 1:
            raise ValueError("maximum_bytes_billed must be a positive number of bytes")
        self.connection = connection
        self.table = table
        self.cap = maximum_bytes_billed
        self.use_storage_api = use_storage_api
        self.client = connection.bigquery_client()  # fails fast on missing credentials
        self.day_stats: dict[dt.date, dict] = {}
        #: Each day's finished query (and its estimate): a read that fails after it (a dropped
        #: stream) is retried from its result, kept by BigQuery ~24 h, instead of a new scan of
        #: ~0.4 TB (found by an audit). One source object serves one run.
        self._finished: dict[dt.date, tuple] = {}

    def describe(self) -> dict[str, str]:
        return {"source": self.name, "table": self.table, "project": self.client.project,
                "maximum_bytes_billed": str(self.cap),
                "endpoint": self.connection.api_endpoint or "Google (production)"}

    def day_metadata(self, day: dt.date) -> dict:
        return self.day_stats.get(day, {})

    def _parameters(self, day: dt.date) -> list:
        return [bigquery.ScalarQueryParameter("day", "DATE", day)]

    def _dry_run(self, sql: str, day: dt.date):
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False, query_parameters=self._parameters(day))
        return self._call(lambda: self.client.query(sql, job_config=config, retry=API_RETRY), day)

    def estimate_bytes(self, day: dt.date) -> int:
        """Bytes the day's extract would scan (a dry run: free)."""
        return int(self._dry_run(self.day_sql(), day).total_bytes_processed or 0)

    def day_sql(self) -> str:
        return _sql("day_query.sql").replace("{table}", self.table)

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]:
        # The partitions and the CLI never ask for one; any other caller of the warehouse layer
        # would commit (and pay for) a partial day the volume check may not catch.
        if day >= dt.datetime.now(dt.timezone.utc).date():
            raise BigQuerySourceError(f"{day} is not over in UTC: upstream is still receiving its downloads; "
                                      "load it from the next day on")
        if day in self._finished:  # a retry of a read that failed after its query: re-read, not re-scan
            job, estimate = self._finished[day]
        else:
            sql = self.day_sql()
            estimate = check_estimate(self._dry_run(sql, day), self.cap, f"{day}")
            config = bigquery.QueryJobConfig(query_parameters=self._parameters(day), maximum_bytes_billed=self.cap)
            job = self._call(lambda: self.client.query(sql, job_config=config, retry=API_RETRY,
                                                       job_retry=DEFAULT_JOB_RETRY), day)
        rows = self._call(lambda: job.result(retry=API_RETRY), day)
        self._finished[day] = (job, estimate)
        path = "storage"
        batches = self._storage_batches(rows, day) if self.use_storage_api else None
        if batches is None:
            path = "rest"
            # A fresh iterator: the failed Storage attempt may have started the first one.
            batches = self._call(lambda: job.result(retry=API_RETRY).to_arrow_iterable(), day)
        yield from batches
        self.day_stats[day] = {**job_metadata(job, estimate), "read_path": path}

    def _storage_batches(self, rows, day: dt.date) -> Iterator[pa.RecordBatch] | None:
        """The Storage Read stream of the finished query's ``rows``, or None (logged) when the
        API cannot be used."""
        try:
            storage = self.connection.storage_client()
            iterator = iter(rows.to_arrow_iterable(bqstorage_client=storage))
            first = next(iterator, None)
        except (google_errors.GoogleAPICallError, google_errors.RetryError, ImportError, OSError) as error:
            log.warning("BigQuery Storage Read API unavailable for %s (%s); falling back to REST paging",
                        day, str(error).splitlines()[0][:200])
            return None

        def chained():
            if first is not None:
                yield first
            yield from iterator

        return chained()

    def opening_balance_sql(self) -> str:
        return _sql("opening_balance.sql").replace("{table}", self.table)

    def _balance_dry_run(self, stops_before: dt.date):
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False, query_parameters=[
            bigquery.ScalarQueryParameter("stops_before", "DATE", stops_before)])
        return self._call(lambda: self.client.query(self.opening_balance_sql(), job_config=config, retry=API_RETRY),
                          stops_before)

    def estimate_opening_balance(self, stops_before: dt.date) -> int:
        """Bytes the opening-balance query would scan (a dry run: free)."""
        return int(self._balance_dry_run(stops_before).total_bytes_processed or 0)

    def opening_balance(self, stops_before: dt.date, cap: int) -> Iterator[pa.RecordBatch]:
        """Per-project downloads before ``stops_before``: dry-run, refused over ``cap``, capped;
        refused when it would count a day not over in UTC, whoever asks."""
        latest = latest_balance_stop()
        if stops_before > latest:
            raise BigQuerySourceError(f"an opening balance stopping before {stops_before} would count a day not "
                                      f"over in UTC or still receiving late rows (the last {STILL_CHANGING_DAYS} "
                                      f"days may: partial, never loadable afterwards); stop before {latest} or earlier")
        estimate = check_estimate(self._balance_dry_run(stops_before), cap, f"opening balance before {stops_before}",
                                  BALANCE_CAP_SETTING)
        sql = self.opening_balance_sql()
        config = bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("stops_before", "DATE", stops_before)], maximum_bytes_billed=cap)
        job = self._call(lambda: self.client.query(sql, job_config=config, retry=API_RETRY,
                                                   job_retry=DEFAULT_JOB_RETRY), stops_before)
        rows = self._call(lambda: job.result(retry=API_RETRY), stops_before)
        yield from self._call(lambda: rows.to_arrow_iterable(), stops_before)
        self.balance_stats = job_metadata(job, estimate)

    def day_fingerprints(self, days: list[dt.date]) -> dict[dt.date, str]:
        """Row count and modification time of each day's partition upstream (metadata only)."""
        project, dataset, table = self.table.split(".")
        sql = _sql("day_fingerprints.sql").replace("{dataset}", f"{project}.{dataset}")
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.cap, query_parameters=[
            bigquery.ScalarQueryParameter("table_name", "STRING", table),
            bigquery.ArrayQueryParameter("partitions", "STRING", [f"{d:%Y%m%d}" for d in days])])
        job = self._call(lambda: self.client.query(sql, job_config=config, retry=API_RETRY), days[0])
        rows = self._call(lambda: list(job.result(retry=API_RETRY)), days[0])
        return {dt.datetime.strptime(r[0], "%Y%m%d").date(): f"{r[1]}@{r[2]}" for r in rows}

    def upstream_downloads(self, day: dt.date) -> int:
        """COUNT(*) of the day upstream: each row is one download. What it billed is kept with the
        day's metadata (``count_bytes_billed``): at most the partition's timestamp column, ~8 B a
        row, unless BigQuery answers from metadata (not verified offline)."""
        config = bigquery.QueryJobConfig(query_parameters=self._parameters(day), maximum_bytes_billed=self.cap)
        sql = _sql("day_count.sql").replace("{table}", self.table)
        job = self._call(lambda: self.client.query(sql, job_config=config, retry=API_RETRY), day)
        rows = self._call(lambda: list(job.result(retry=API_RETRY)), day)
        self.day_stats.setdefault(day, {})["count_bytes_billed"] = int(job.total_bytes_billed or 0)
        return int(rows[0][0])

    @staticmethod
    def _call(action, day: dt.date):
        """Run a BigQuery call; a permanent error fails the day with BigQuery's own message."""
        try:
            return action()
        except (google_errors.BadRequest, google_errors.Forbidden, google_errors.NotFound,
                google_errors.Unauthorized) as error:
            raise BigQuerySourceError(f"BigQuery refused the extract of {day}: {error.message}") from error
