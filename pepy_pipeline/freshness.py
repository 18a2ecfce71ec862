"""How fresh users can expect the published data to be, declared once as a Dagster policy.

Replaces time-partition freshness checks and their sensor (superseded since Dagster 1.12, and
noisy with warnings at every start): the policy sits on the asset users see, ``serving_tables``,
and the daemon evaluates it with no sensor to run.
"""

import datetime as dt

from dagster import FreshnessPolicy

#: The schedule starts at 04:30 UTC; the day's publish must have happened by 09:00 UTC, otherwise
#: ``serving_tables`` shows as failing its freshness policy until the next publish.
PUBLISHED_DATA_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 9 * * *", lower_bound_delta=dt.timedelta(hours=4, minutes=30), timezone="UTC"
)
#: The policy sees when a publish happened, not what it holds: a publish of a reloaded older day
#: meets it while yesterday failed. From this time (UTC) yesterday itself must be served.
DEADLINE = dt.time(9, 0)


def expected_last_day(now: dt.datetime) -> dt.date:
    """The newest day the API must serve at ``now`` (UTC): yesterday from the deadline on, the
    day before until then (yesterday may still be loading)."""
    now = now.astimezone(dt.timezone.utc)
    return now.date() - dt.timedelta(days=1 if now.time() >= DEADLINE else 2)
