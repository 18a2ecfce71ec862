"""Days upstream lost for good: committed as empty when asked, never by accident.

A day the source has no rows for is refused (``EmptyDayError``) and stays a hole, reported every
morning. When upstream has lost it for good, a load asked to accept it (the run tag
``pepy/accept-empty``) commits it as empty instead, so the recent sums, ``no_gaps`` and the complete
history go past it. Never over downloads, never for a day upstream counts downloads for (the read
fell short), never for a day upstream may still be delivering.
"""

from __future__ import annotations

import datetime as dt

from pepy_pipeline.warehouse.day_checks import CheckOutcome
from pepy_warehouse.identifiers import identifier

#: In an empty day's volume outcome and its materialization's metadata.
ACCEPTED_EMPTY = "accepted_empty"
#: A floor, not a measurement: an empty day that ended less than this long ago is taken as late,
#: not lost (accepting it would publish every project's last day as 0 and silence the
#: ``serves_yesterday`` check while upstream is only late; most late rows arrive within a day or
#: two). A day accepted too early is reloaded by the schedule when upstream's rows appear (its
#: fingerprint says 0 rows), so the floor only has to stop the obvious mistake.
MIN_AGE = dt.timedelta(hours=30)


def committed_empty(client, database: str, day: dt.date) -> bool:
    """Whether the day's last commit read no rows (accepted as empty), finished or torn (killed
    between its swap statements: it passed the empty-day checks under the mutex before it
    started): reading it empty again changes nothing, so a load without the tag (a range, the
    schedule's blind reload, the reload a torn day needs before any publish) commits it again
    instead of failing a day the warehouse holds as it should."""
    rows = client.query(f"SELECT state, source_rows FROM {identifier(database)}.load_log FINAL "
                        "WHERE date = {day:Date}", parameters={"day": day}).result_rows
    return bool(rows) and rows[0][0] in ("committed", "committing") and rows[0][1] == 0


def refusal(day: dt.date, volume: CheckOutcome, counted: list[CheckOutcome], now: dt.datetime) -> str | None:
    """Why an empty read of ``day`` cannot be accepted (None: it can). ``volume``: the day's
    volume outcome (it names downloads the day holds); ``counted``: upstream's count, if the
    source can count; ``now``: aware UTC."""
    ended = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    if now - ended < MIN_AGE:
        return (f"{day} ended less than {MIN_AGE.total_seconds() / 3600:.0f} hours ago: upstream may still be "
                "delivering it; accept it as empty only once upstream has confirmed the loss")
    if volume.metadata.get("committed_downloads"):
        return f"it holds {volume.metadata['committed_downloads']} downloads, which an empty read never replaces"
    if counted and not counted[0].passed:
        return counted[0].metadata.get("error", f"upstream counts {counted[0].metadata.get('upstream')} downloads "
                                                "for it: the read fell short")
    return None


def accepted(day: dt.date, counted: list[CheckOutcome]) -> CheckOutcome:
    """The volume outcome of a day accepted as empty: passed, and never compared with other days."""
    return CheckOutcome("volume_within_bands", True, True, {
        "day": day.isoformat(), "downloads": 0, ACCEPTED_EMPTY: True,
        "verdict": "accepted as empty, as asked: the source has no rows for this day"
                   + (" and upstream counts none" if counted else " (it cannot count upstream)")})
