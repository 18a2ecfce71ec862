"""Which days the daily schedule loads, and why: yesterday, the recent days that changed upstream
or were committed with a low volume, the older days (up to two months back) whose upstream row
count grew, and the days left as holes by a load that failed or was refused, however old, each
within caps that bound what BigQuery bills (the freshness it promises is declared in
``pepy_pipeline.freshness``)."""

import datetime as dt
from dataclasses import dataclass

from dagster._core.storage.tags import PRIORITY_TAG

from pepy_pipeline.assets.download_checks import UPSTREAM_COUNT_MATCHES
from pepy_pipeline.load_history import (
    CATCH_UP_TAG,
    FINGERPRINT_TAG,
    LATE_ROWS_TAG,
    RECHECK_TAG,
    RELOAD_TAG,
    catch_up_tries,
    change_reloads,
    changed_since_last_try,
    committed_low,
    last_load_metadata,
    late_row_reloads,
    loaded_fingerprint,
    recheck_tries,
    unloaded_days,
)
from pepy_pipeline.load_runs import days_in_flight

#: How far back the schedule looks for days that changed upstream after they were loaded.
LOOKBACK_DAYS = 7
#: Days older than the look-back, up to this many days back, are swept each morning for growth
#: of upstream's row count (one metadata query for all of them): rows delivered weeks late, or a
#: day repaired upstream after an outage, were lost silently (a probe: 15% of a day's rows
#: arriving 200 h late). Only the row count is compared there: a change of metadata alone (a bulk
#: rewrite upstream) must not reload two months of closed days at ~0.3 TiB each.
SWEEP_DAYS = 60
#: ... and read again only when it grew by more than this share: a trickle of a few rows must
#: not cost a read and a closed month's compaction every morning (found in review); upstream
#: only adds rows, so a count that fell is not read again either.
MIN_LATE_GROWTH = 0.001
#: Those reloads (and the retries of a refused day there whose rows grew since its last try) are
#: counted by their own tag, at most this many per day: the look-back's reloads for metadata
#: changes must not use up a day's reloads for its late rows (found in review).
MAX_LATE_ROW_RELOADS = 2
LATE_ROWS = "late rows upstream after the look-back"
GREW_SINCE_TRY = "upstream's rows grew since its last try"


def rows_token(fingerprint: str) -> str:
    """The part of a fingerprint that changes only when upstream's rows do: before the ``@`` of
    BigQuery's ``rows@modified``, the whole of a fingerprint without one."""
    return fingerprint.split("@", 1)[0]


def rows_grew(before: str, now: str) -> bool:
    """Whether upstream's rows grew materially from fingerprint ``before`` to ``now``: by more
    than ``MIN_LATE_GROWTH`` where both tokens count rows (BigQuery's), else any change of the
    token (the sample source's)."""
    old, new = rows_token(before), rows_token(now)
    if old.isdigit() and new.isdigit():
        return int(new) > int(old) * (1 + MIN_LATE_GROWTH)
    return old != new


def worth_rechecking(metadata: dict, fingerprint_now: str | None) -> bool:
    """A day committed low is read again only if a new read could differ: its upstream
    fingerprint cannot vouch that upstream is unchanged (none now, or none recorded), or the
    downloads loaded fell short of upstream's own count (a read cut short). An unchanged day
    read again gives the same rows, and a changed one is reloaded for that already."""
    recorded = metadata.get("upstream_fingerprint")
    vouched = fingerprint_now is not None and recorded is not None and recorded.value == fingerprint_now != ""
    matched = metadata.get(UPSTREAM_COUNT_MATCHES)
    return not vouched or (matched is not None and not matched.value)


#: A recent day whose upstream fingerprint changed is reloaded this many times at most (counted
#: by ``RELOAD_TAG``): late rows arrive within a day or two, while a partition whose metadata
#: moved every morning with the same rows was read eight times a day (found by an operations
#: probe: ~0.3 TiB each at real size). A day changed again after that is named in the tick's log.
MAX_CHANGE_RELOADS = 3
#: In the reason of a failed day's retry asked because upstream changed since its last try:
#: counted as a change reload too, so a partition whose metadata keeps moving is read a bounded
#: number of times whether its reloads commit or fail.
CHANGED_SINCE_TRY = "changed upstream since its last try"

#: A recent day committed low (the volume check's warn band) is loaded again this many times at
#: most, one a morning, when a new read could differ (:func:`worth_rechecking`): a read cut short
#: is corrected, a day that really was light (a holiday) stops costing a scan.
MAX_LOW_VOLUME_RECHECKS = 2

#: Days older than the look-back are retried when their last load failed or was refused (any
#: age), or when they were never loaded though an earlier day was and lie within this many days
#: (a daemon down for weeks): not the whole history after one stray early load.
HOLE_HORIZON_DAYS = 35
#: At most this many such older days a tick, newest first, each run after yesterday's: a load in a
#: closed month compacts it again (~13 minutes at real size), so an outage is caught up over
#: several mornings without holding yesterday back.
CATCH_UP_PER_TICK = 3
#: ... and each at most this many times by the schedule: a day that can never load (upstream never
#: completes it, a reload refused because upstream really shrank, a day the opening balance
#: covers) stops costing a scan and an alert every morning; ``no_gaps`` and the UI's FAILED
#: partition keep showing it.
MAX_CATCH_UP_TRIES = 3


#: The schedule's runs go before queued runs of a lower priority (a backfill's: 0). Dagster's run
#: queue is first-in first-out within a priority, and an asset backfill queues its runs all at
#: once: yesterday waited behind every one of them, hours of runs on one warehouse slot (found by
#: a guard audit). Among the schedule's own runs, the order it requests them in stays.
SCHEDULE_PRIORITY = "1"


@dataclass(frozen=True)
class Reason:
    """Why the schedule wants a day, and the tags its run is counted by (each valued with the
    day): decided where the reason is, so rewording a message cannot drop a cap on BigQuery reads
    (found in review: the tags were inferred from the text's wording)."""

    text: str
    counted_by: tuple[str, ...] = ()

    def tags(self, day: dt.date, fingerprint: str | None) -> dict[str, str]:
        """The run's tags: the reason, its counters and, on a retry, upstream's fingerprint when
        asked (what :func:`changed_since_last_try` compares with)."""
        tags = {"pepy/why": self.text[:200], PRIORITY_TAG: SCHEDULE_PRIORITY,
                **{tag: day.isoformat() for tag in self.counted_by}}
        if CATCH_UP_TAG in self.counted_by and fingerprint:
            tags[FINGERPRINT_TAG] = fingerprint
        return tags


def upstream_fingerprints(source, days: list[dt.date]) -> tuple[dict[dt.date, str] | None, str]:
    """(the source's fingerprints of ``days``, or None when it has none or they cannot be read now;
    why not). Metadata only: a failure here must not cost the morning's loads."""
    if not hasattr(source, "day_fingerprints"):
        return None, "the source has no fingerprints"
    try:
        return source.day_fingerprints(days), ""
    except Exception as error:  # noqa: BLE001 - any source error: fall back to reloading
        return None, f"reading them failed: {type(error).__name__}: {str(error)[:200]}"


def days_to_load(instance, source, today: dt.date, fingerprints: dict | None = None,
                 skipped: dict | None = None) -> dict[dt.date, Reason]:
    """Yesterday, plus each recent day whose upstream fingerprint differs from the one it was
    loaded with (late rows), that was committed low and a new read could differ
    (:func:`worth_rechecking`, up to ``MAX_LOW_VOLUME_RECHECKS`` times) or that failed or is a
    hole while upstream has it, plus up to
    ``CATCH_UP_PER_TICK`` older ones (:func:`unloaded_days`) not yet tried ``MAX_CATCH_UP_TRIES``
    times by the schedule (counted by ``CATCH_UP_TAG``). Sources without fingerprints, or whose
    fingerprints cannot be read now, get the day before reloaded. A recent failed day is retried
    ``MAX_CATCH_UP_TRIES`` times too, and after that only when upstream changed since its last
    try (:func:`changed_since_last_try`). A changed day is reloaded ``MAX_CHANGE_RELOADS`` times
    at most. Older days up to ``SWEEP_DAYS`` back whose upstream row count grew since they were
    loaded (:func:`late_rows_after_look_back`), or since the last try of one that failed, share
    the older days' quota after the failed ones, ``MAX_LATE_ROW_RELOADS`` times each.
    ``fingerprints`` and ``skipped``, when given, receive the fingerprints read and the days
    changed upstream but not requested (with why)."""
    yesterday = today - dt.timedelta(days=1)
    wanted = {yesterday: Reason("new")}
    recent = [today - dt.timedelta(days=k) for k in range(2, LOOKBACK_DAYS + 2)]
    swept = [today - dt.timedelta(days=k) for k in range(LOOKBACK_DAYS + 2, SWEEP_DAYS + 1)]
    now, why_not = upstream_fingerprints(source, recent + swept)
    if fingerprints is not None and now:
        fingerprints.update(now)
    if now is None:
        wanted[recent[0]] = Reason(f"reload (source cannot tell what changed: {why_not})")
    for day in recent:
        metadata = last_load_metadata(instance, day)
        before = loaded_fingerprint(metadata)
        capped = False
        if before is not None and now is not None and day in now and now[day] != before:
            capped = change_reloads(instance, day) >= MAX_CHANGE_RELOADS
            if not capped:
                wanted[day] = Reason(f"changed upstream: {before or 'unknown'} -> {now[day]}", (RELOAD_TAG,))
            elif skipped is not None:
                skipped[day] = (f"changed upstream again ({before or 'unknown'} -> {now[day]}), already reloaded "
                                f"{MAX_CHANGE_RELOADS} times for changes: not reloaded; load it by hand if rows "
                                "are still arriving")
        ratio = committed_low(metadata)
        if day not in wanted and not capped and ratio is not None and worth_rechecking(metadata, (now or {}).get(day)) \
                and recheck_tries(instance, day) < MAX_LOW_VOLUME_RECHECKS:
            wanted[day] = Reason(f"recheck: committed at {ratio} of its median, in the warn band (a partial read?)",
                                 (RECHECK_TAG,))
    older = 0
    horizon = today - dt.timedelta(days=HOLE_HORIZON_DAYS)
    holes = unloaded_days(instance, yesterday, horizon)
    for day, why in sorted(holes.items(), reverse=True):
        if day in recent:
            if now is not None and day not in now:  # upstream does not have the day (yet)
                continue
            if catch_up_tries(instance, day) < MAX_CATCH_UP_TRIES:
                wanted.setdefault(day, Reason(f"catch-up: {why}", (CATCH_UP_TAG,)))
            elif changed_since_last_try(instance, day, (now or {}).get(day)) \
                    and change_reloads(instance, day) < MAX_CHANGE_RELOADS:  # counted with the changes
                wanted.setdefault(day, Reason(f"catch-up: {why}; {CHANGED_SINCE_TRY}", (CATCH_UP_TAG, RELOAD_TAG)))
        elif older < CATCH_UP_PER_TICK and catch_up_tries(instance, day) < MAX_CATCH_UP_TRIES:
            wanted.setdefault(day, Reason(f"catch-up: {why}", (CATCH_UP_TAG,)))
            older += 1
        elif older < CATCH_UP_PER_TICK and changed_since_last_try(instance, day, (now or {}).get(day), rows_grew) \
                and late_row_reloads(instance, day) < MAX_LATE_ROW_RELOADS:  # refused, then repaired upstream
            wanted.setdefault(day, Reason(f"catch-up: {why}; {GREW_SINCE_TRY}", (CATCH_UP_TAG, LATE_ROWS_TAG)))
            older += 1
    for day, why in late_rows_after_look_back(instance, now or {}, [d for d in swept if d not in holes]).items():
        if late_row_reloads(instance, day) >= MAX_LATE_ROW_RELOADS:
            if skipped is not None:
                skipped[day] = (f"{why}, already reloaded {MAX_LATE_ROW_RELOADS} times for late rows: not reloaded; "
                                "load it by hand if rows are still arriving")
        elif older < CATCH_UP_PER_TICK:
            wanted[day] = Reason(why, (LATE_ROWS_TAG,))
            older += 1
        elif skipped is not None:
            skipped[day] = f"{why}: left to a later morning (at most {CATCH_UP_PER_TICK} older days a tick)"
    return wanted


def late_rows_after_look_back(instance, fingerprints_now: dict[dt.date, str],
                              days: list[dt.date]) -> dict[dt.date, str]:
    """Of ``days`` (older than the look-back), newest first, each loaded with a fingerprint whose
    rows upstream's now outgrew (:func:`rows_grew`). A day loaded without a fingerprint
    (unreadable that morning) cannot be compared, and is not read again blindly."""
    grown = {}
    for day in sorted(days, reverse=True):
        before = loaded_fingerprint(last_load_metadata(instance, day)) if day in fingerprints_now else None
        if before and rows_grew(before, fingerprints_now[day]):
            grown[day] = f"{LATE_ROWS}: {before} -> {fingerprints_now[day]}"
    return grown


def plan_tick(instance, source, today: dt.date, asset_graph=None, fingerprints: dict | None = None,
              skipped: dict | None = None) -> tuple[dict[dt.date, Reason], dict[dt.date, Reason]]:
    """(days to request, days left to the queued or running run or backfill that is loading them),
    each with why it is wanted (:func:`days_to_load`). ``asset_graph`` reads asset backfills'
    days (:func:`pepy_pipeline.load_runs.days_of_backfill`)."""
    wanted, loading = days_to_load(instance, source, today, fingerprints, skipped), days_in_flight(instance, asset_graph)
    return ({day: why for day, why in wanted.items() if day not in loading},
            {day: why for day, why in wanted.items() if day in loading})
