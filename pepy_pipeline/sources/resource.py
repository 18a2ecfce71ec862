"""The Dagster resource that chooses and configures the download source."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from pepy_pipeline.sources.base import DownloadSource

KNOWN_SOURCES = ("sample", "bigquery")


class UnknownSourceError(ValueError):
    """The configured source name is not one we know."""


class DownloadSourceResource(ConfigurableResource):
    """Which source a run reads: the built-in ``sample`` or real ``bigquery``."""

    name: str = Field(default="sample", description=f"one of {', '.join(KNOWN_SOURCES)}")
    sample_scale: str = Field(default="small", description="sample source: 'small' or 'real' (PyPI's size)")
    sample_projects: int | None = Field(default=None, description="sample source: number of projects (None: the scale's)")
    sample_rows_per_day: int | None = Field(
        default=None, description="sample source: rows per weekday (None: the scale's: 20,000 small, 33 M real)")
    sample_seed: int = Field(default=7, description="sample source: seed (same seed, same data)")
    bigquery_project: str = Field(default="", description="bigquery: project billed for queries")
    bigquery_location: str = Field(default="US", description="bigquery: job location")
    bigquery_table: str = Field(default="bigquery-public-data.pypi.file_downloads", description="bigquery: table")
    bigquery_maximum_bytes_billed: int = Field(
        default=10**12, description="bigquery: hard cap per day's query (a 2026 weekday scans ~0.4-0.47 TB)")
    bigquery_credentials_path: str = Field(default="", description="bigquery: service-account JSON file")
    bigquery_credentials_base64: str = Field(default="", description="bigquery: base64 service-account JSON")
    bigquery_api_endpoint: str = Field(default="", description="bigquery: REST endpoint (emulator only)")
    bigquery_storage_endpoint: str = Field(default="", description="bigquery: Storage Read gRPC host:port (emulator only)")
    bigquery_anonymous: bool = Field(default=False, description="bigquery: anonymous credentials (emulator only)")

    def build(self) -> DownloadSource:
        """The configured source; an unknown name is a clear error before anything is loaded."""
        if self.name == "sample":
            from pepy_pipeline.sources.sample import SampleSource

            return SampleSource(projects=self.sample_projects, rows_per_day=self.sample_rows_per_day,
                                seed=self.sample_seed, scale=self.sample_scale)
        if self.name == "bigquery":
            from pepy_pipeline.sources.bigquery.clients import BigQueryConnection
            from pepy_pipeline.sources.bigquery.source import BigQuerySource

            connection = BigQueryConnection(
                project=self.bigquery_project, location=self.bigquery_location,
                credentials_path=self.bigquery_credentials_path, credentials_base64=self.bigquery_credentials_base64,
                api_endpoint=self.bigquery_api_endpoint, storage_endpoint=self.bigquery_storage_endpoint,
                anonymous=self.bigquery_anonymous,
            )
            return BigQuerySource(connection, self.bigquery_maximum_bytes_billed, table=self.bigquery_table)
        raise UnknownSourceError(f"unknown source {self.name!r}: choose one of {', '.join(KNOWN_SOURCES)}")
