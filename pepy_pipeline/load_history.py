"""What the Dagster instance remembers of each day's loads, as the schedule reads it: the last
committed load's metadata, the runs made of a day (counted by the tags below, each valued with the
day) and the partitions left unloaded. The decisions taken from these are in
``pepy_pipeline.reload_policy``."""

import datetime as dt
import operator

from dagster import AssetPartitionStatus, AssetRecordsFilter, RunsFilter

from pepy_pipeline.assets.download_checks import VOLUME_LOW
from pepy_pipeline.assets.keys import DOWNLOADS
from pepy_pipeline.partitions import daily_partitions

#: The schedule's reloads of a recent day whose upstream fingerprint changed.
RELOAD_TAG = "pepy/reload-changed"
#: Its reloads of an older day whose upstream row count grew after the look-back.
LATE_ROWS_TAG = "pepy/reload-late-rows"
#: Its reloads of a recent day committed in the volume check's warn band.
RECHECK_TAG = "pepy/recheck-low-volume"
#: Its catch-up runs of a day that failed, was refused or was never loaded.
CATCH_UP_TAG = "pepy/catch-up"
#: On a retry of a recent day, its upstream fingerprint when asked: a day out of tries is tried
#: again once upstream changed since its last try (a day upstream completes late), never for an
#: unchanged one (a real-size read bills ~0.3 TiB).
FINGERPRINT_TAG = "pepy/upstream-fingerprint"


def last_load(instance, day: dt.date):
    """The record of ``day``'s last committed load (None: never loaded)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=DOWNLOADS, asset_partitions=[day.isoformat()]), limit=1).records
    return records[0] if records else None


def last_load_metadata(instance, day: dt.date) -> dict | None:
    """The metadata of ``day``'s last committed load (None: never loaded)."""
    record = last_load(instance, day)
    return dict(record.asset_materialization.metadata) if record else None


def loaded_fingerprint(metadata: dict | None) -> str | None:
    """The upstream fingerprint recorded when a day was last committed (its load's ``metadata``;
    None: never loaded)."""
    if metadata is None:
        return None
    entry = metadata.get("upstream_fingerprint")
    return entry.value if entry is not None else ""


def committed_low(metadata: dict | None) -> float | None:
    """The volume ratio a day was last committed with (its load's ``metadata``) when that was in
    the warn band below its median (None: it was not)."""
    low, ratio = (metadata or {}).get(VOLUME_LOW), (metadata or {}).get("volume_ratio")
    return ratio.value if low is not None and low.value and ratio is not None else None


def unloaded_days(instance, before: dt.date, horizon: dt.date) -> dict[dt.date, str]:
    """Every partition before ``before`` whose latest load failed or was refused (any age), and
    every one from ``horizon`` on never loaded though an earlier day was (a run that died before
    it, a daemon that was down). Days before the first one loaded are not holes (history starts
    there) unless a load of them failed."""
    keys = daily_partitions.get_partition_keys(current_time=dt.datetime.combine(before, dt.time(), dt.timezone.utc))
    if not keys:
        return {}
    status = instance.get_status_by_partition(DOWNLOADS, keys, daily_partitions) or {}
    first_loaded = min((key for key in keys if status.get(key) == AssetPartitionStatus.MATERIALIZED), default=None)
    days = {}
    for key in keys:
        day = dt.date.fromisoformat(key)
        if status.get(key) == AssetPartitionStatus.FAILED:
            days[day] = "its last load failed or was refused"
        elif status.get(key) is None and first_loaded is not None and key > first_loaded and day >= horizon:
            days[day] = "never loaded, though an earlier day was: a failed or refused load"
    return days


def change_reloads(instance, day: dt.date) -> int:
    return instance.get_runs_count(filters=RunsFilter(tags={RELOAD_TAG: day.isoformat()}))


def late_row_reloads(instance, day: dt.date) -> int:
    return instance.get_runs_count(filters=RunsFilter(tags={LATE_ROWS_TAG: day.isoformat()}))


def recheck_tries(instance, day: dt.date) -> int:
    return instance.get_runs_count(filters=RunsFilter(tags={RECHECK_TAG: day.isoformat()}))


def catch_up_tries(instance, day: dt.date) -> int:
    """The schedule's catch-up runs of ``day`` since it last loaded: a day that loaded and failed
    again later (a reload refused) gets its tries afresh."""
    record = last_load(instance, day)
    since = dt.datetime.fromtimestamp(record.timestamp, dt.timezone.utc) if record else None
    return instance.get_runs_count(filters=RunsFilter(tags={CATCH_UP_TAG: day.isoformat()}, created_after=since))


def changed_since_last_try(instance, day: dt.date, fingerprint_now: str | None, changed=operator.ne) -> bool:
    """Whether upstream's fingerprint of ``day`` is ``changed`` (any difference by default;
    :func:`pepy_pipeline.reload_policy.rows_grew` past the look-back) from the one its last retry was asked with: False
    without a fingerprint now or without a retry; True when the last retry carried none
    (fingerprints unreadable that morning: it vouches for nothing), else a day would be stuck for
    good (found in review)."""
    runs = instance.get_runs(filters=RunsFilter(tags={CATCH_UP_TAG: day.isoformat()}), limit=1)
    if not fingerprint_now or not runs:
        return False
    tried = runs[0].tags.get(FINGERPRINT_TAG)
    return tried is None or changed(tried, fingerprint_now)
