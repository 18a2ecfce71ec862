"""One day from source to committed: stage, check, commit; retrying transient source errors.

This is what every load route runs (Dagster runs, the CLI through Dagster, tests), so the rules
hold everywhere: a day failing a blocking check is never committed, and a transient upstream error
is retried with backoff before the day is given up.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pepy_pipeline.sources.base import DownloadSource
from pepy_pipeline.warehouse import checks, empty_days
from pepy_pipeline.warehouse.commit import ReloadShrinks, commit_day, refuse_if_covered_by_balance
from pepy_pipeline.warehouse.day_checks import CheckOutcome, VolumeBands, check_staged_day, refused
from pepy_pipeline.warehouse.loader import EmptyDayError, LoadVerificationError, StagedDay, stage_day

#: Attempts per day when the source fails transiently, and the first backoff (doubling).
ATTEMPTS = 3
BACKOFF_SECONDS = 5.0


class DayFailed(RuntimeError):
    """The day was not committed; ``outcomes`` holds the checks' evidence (possibly empty)."""

    def __init__(self, message: str, outcomes: list[CheckOutcome] | None = None) -> None:
        super().__init__(message)
        self.outcomes = outcomes or []


def not_loaded(day: dt.date, error: str) -> CheckOutcome:
    """The failed blocking check reported for a day that could not be loaded, ``error`` its evidence."""
    return CheckOutcome("totals_match_source", False, True, {"day": day.isoformat(), "error": error})


@dataclass
class DayResult:
    day: dt.date
    rows: int
    downloads: int
    bytes_on_disk: int
    seconds_stage: float
    seconds_rollups: float
    seconds_commit: float
    seconds_total: float
    fingerprint: str
    outcomes: list[CheckOutcome]
    rollup_rows: dict[str, int] = field(default_factory=dict)
    cost: dict = field(default_factory=dict)


def is_transient(error: BaseException) -> bool:
    """Upstream hiccups worth another try: rate limits, 5xx, dropped connections."""
    try:
        from google.api_core import exceptions as google_errors
        transient = (google_errors.TooManyRequests, google_errors.ServerError, google_errors.RetryError)
    except ImportError:  # pragma: no cover - google libraries are a dependency
        transient = ()
    return isinstance(error, (ConnectionError, TimeoutError, *transient)) or getattr(error, "transient", False)


def load_and_commit_day(client, database: str, source: DownloadSource, day: dt.date, run_id: str = "",
                        insert_clients: Sequence = (), bands: VolumeBands | None = None,
                        log: logging.Logger | None = None, backoff_seconds: float = BACKOFF_SECONDS,
                        accept_empty: bool = False) -> DayResult:
    """``accept_empty``: a day the source has no rows for is committed as empty (an outage of
    upstream's log that will never be filled) instead of refused; see ``empty_days``. A day committed
    empty before is accepted as such again."""
    log = log or logging.getLogger("pepy_pipeline")
    # Refused before the source is read (a real-size day bills ~0.3 TiB of BigQuery, ~$2); the commit
    # checks again under its mutex, for a balance loaded meanwhile.
    refuse_if_covered_by_balance(client, database, day)
    # Read once, before the first read of the day: a retry may read the first attempt's finished
    # query again, and a fingerprint read later could be newer than the rows committed, hiding late
    # rows from the schedule for good (found in review).
    fingerprint = _fingerprint(source, day)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _once(client, database, source, day, run_id, insert_clients, bands or VolumeBands(), accept_empty,
                         fingerprint)
        except DayFailed:
            raise
        except (EmptyDayError, LoadVerificationError) as error:
            raise DayFailed(str(error), [not_loaded(day, str(error))]) from error
        except Exception as error:  # noqa: BLE001 - classified below
            if not is_transient(error) or attempt == ATTEMPTS:
                raise
            wait = backoff_seconds * 2 ** (attempt - 1)
            log.warning(f"{day}: transient source error ({type(error).__name__}: {str(error)[:200]}); "
                        f"attempt {attempt} of {ATTEMPTS}, retrying in {wait:.0f} s")
            time.sleep(wait)
    raise AssertionError("unreachable")


def _fingerprint(source: DownloadSource, day: dt.date) -> str:
    """Upstream's fingerprint of ``day`` ("" when the source has none or it cannot be read now)."""
    if not hasattr(source, "day_fingerprints"):
        return ""
    try:
        return source.day_fingerprints([day]).get(day, "")
    except Exception as error:  # noqa: BLE001 - metadata only: never fails a load
        logging.getLogger("pepy_pipeline").warning(
            f"{day}: could not read the upstream fingerprint ({str(error)[:200]}); late rows for this day "
            "will be detected by the next successful comparison")
        return ""


def _once(client, database, source, day, run_id, insert_clients, bands, accept_empty, fingerprint) -> DayResult:
    started = time.perf_counter()
    accept_empty = accept_empty or empty_days.committed_empty(client, database, day)
    with stage_day(client, database, source, day, insert_clients=insert_clients, allow_empty=accept_empty) as staged:
        outcomes = check_staged_day(client, staged, bands)
        if staged.rows == 0:
            outcomes = _accept_empty(outcomes, source, staged)
            # "0 rows": the schedule reloads the day if upstream's fingerprint of it ever counts rows
            fingerprint = fingerprint or ("0" if hasattr(source, "day_fingerprints") else "")
        blocked = refused(outcomes)
        if blocked:
            raise DayFailed("blocking checks failed: " + ", ".join(o.name for o in blocked), outcomes)
        # What the source says of the day is asked BEFORE the commit: between the commit and the
        # run's report of it (the caller logs the materialization on return) a crash leaves a
        # committed day that no sensor publishes; network round trips there widened that window
        # (found by an operations probe). It never fails the day.
        cost = _cost_metadata(source, day)
        if staged.rows:  # an empty day's count was asked by _accept_empty
            outcomes.extend(_upstream_count(source, staged))
        try:
            commit = commit_day(client, staged, source.name, run_id=run_id, upstream_fingerprint=fingerprint,
                                reload_fail_below=bands.reload_fail_below)
        except ReloadShrinks as shrinks:
            outcomes = [o for o in outcomes if o.name != "volume_within_bands"]
            raise DayFailed(str(shrinks), [*outcomes, CheckOutcome("volume_within_bands", False, True,
                                                                   shrinks.metadata)]) from shrinks
    return DayResult(day=day, rows=staged.rows, downloads=staged.downloads, bytes_on_disk=commit.bytes_on_disk,
                     seconds_stage=staged.seconds_extract_and_stage, seconds_rollups=staged.seconds_rollups,
                     seconds_commit=commit.seconds, seconds_total=time.perf_counter() - started,
                     fingerprint=fingerprint, outcomes=outcomes, rollup_rows=staged.rollup_rows, cost=cost)


def _accept_empty(outcomes: list[CheckOutcome], source: DownloadSource, staged: StagedDay) -> list[CheckOutcome]:
    """The outcomes of a day read empty by a load allowed to accept it, its volume replaced by
    :func:`empty_days.accepted`; or :class:`DayFailed` naming why it cannot be accepted."""
    volume = next(o for o in outcomes if o.name == "volume_within_bands")
    others = [o for o in outcomes if o.name != "volume_within_bands"]
    counted = _upstream_count(source, staged)
    why = empty_days.refusal(staged.day, volume, counted, dt.datetime.now(dt.timezone.utc))
    if why:
        refused_volume = CheckOutcome("volume_within_bands", False, True,
                                      {**volume.metadata, "verdict": f"refused: {why}"})
        raise DayFailed(f"not accepted as empty: {why}", [*others, refused_volume, *counted])
    return [*others, empty_days.accepted(staged.day, counted), *counted]


def _cost_metadata(source: DownloadSource, day: dt.date) -> dict:
    if not hasattr(source, "day_metadata"):
        return {}
    try:
        return source.day_metadata(day)
    except Exception as error:  # noqa: BLE001 - metadata only
        logging.getLogger("pepy_pipeline").warning(f"{day}: its cost metadata not read: {error}")
        return {}


def _upstream_count(source: DownloadSource, staged) -> list[CheckOutcome]:
    """The staged downloads against upstream's own COUNT(*) (sources that can count): a warning."""
    if not hasattr(source, "upstream_downloads"):
        return []
    day = staged.day
    try:
        upstream = source.upstream_downloads(day)
    except Exception as error:  # noqa: BLE001 - the comparison fails (a warning), the day stands
        return [CheckOutcome("matches_upstream_count", False, False, {
            "day": day.isoformat(), "error": f"upstream count not read: {type(error).__name__}: {error}"[:1000]})]
    passed, metadata = checks.matches_upstream(day, staged.downloads, upstream)
    billed = _cost_metadata(source, day).get("count_bytes_billed")
    if billed is not None:
        metadata["count_bytes_billed"] = billed
    return [CheckOutcome("matches_upstream_count", passed, False, metadata)]


#: The short name tests and benchmarks use.
load_day = load_and_commit_day
