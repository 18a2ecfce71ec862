"""The real source: one aggregated query per day on bigquery-public-data.pypi.file_downloads."""
