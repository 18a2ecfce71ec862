"""The assets' and checks' names, in one place: schedules, sensors, alerts and the command line
refer to them, and a name written twice can drift."""

from dagster import AssetKey

DOWNLOADS = AssetKey("pypi_downloads")
ROLLUPS = AssetKey("download_rollups")
SERVING = AssetKey("serving_tables")
SERVES_YESTERDAY = "serves_yesterday"
