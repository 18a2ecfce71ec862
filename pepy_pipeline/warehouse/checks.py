"""Checks on the committed warehouse as a whole, after a run's days are committed (warnings):
gaps between loaded days, and each day against an upstream COUNT(*)."""

from __future__ import annotations

import datetime as dt

from pepy_warehouse.identifiers import identifier


def loaded_day_gaps(client, database: str, first_partition: dt.date | None = None) -> tuple[bool, dict]:
    """Days missing between the first and last loaded day, or from the day the opening balance
    stops before when it is earlier (the days between would be counted nowhere), though not before
    ``first_partition`` (days that cannot be loaded here)."""
    db = identifier(database)
    loaded = [row[0] for row in client.query(
        f"SELECT DISTINCT date FROM {db}.load_log FINAL WHERE state = 'committed' ORDER BY date").result_rows]
    if not loaded:
        return True, {"loaded_days": 0, "missing_days": "none"}
    balance = client.query(f"SELECT min(stops_before), count() FROM {db}.opening_balance").result_rows[0]
    first = min(loaded[0], balance[0]) if balance[1] else loaded[0]
    if first_partition is not None:
        first = min(loaded[0], max(first, first_partition))
    expected = {first + dt.timedelta(days=i) for i in range((loaded[-1] - first).days + 1)}
    missing = sorted(expected - set(loaded))
    return not missing, {
        "loaded_days": len(loaded),
        "first_day": loaded[0].isoformat(),
        "last_day": loaded[-1].isoformat(),
        **({"opening_balance_stops_before": balance[0].isoformat()} if balance[1] else {}),
        "missing_days": ", ".join(d.isoformat() for d in missing[:60]) or "none",
        "missing_count": len(missing),
    }


def matches_upstream(day: dt.date, loaded: int, upstream: int) -> tuple[bool, dict]:
    """Downloads loaded for a day against an upstream COUNT(*) taken right after the extract."""
    return loaded == upstream, {"day": day.isoformat(), "loaded": loaded, "upstream": upstream,
                                "difference": upstream - loaded}
