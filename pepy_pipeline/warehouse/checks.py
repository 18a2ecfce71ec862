"""Checks on the committed warehouse as a whole, after a run's days are committed (warnings):
gaps between loaded days, and each day against an upstream COUNT(*)."""

from __future__ import annotations

import datetime as dt

from pepy_warehouse.identifiers import identifier


def loaded_day_gaps(client, database: str) -> tuple[bool, dict]:
    """Days missing between the first and last loaded day."""
    db = identifier(database)
    loaded = [row[0] for row in client.query(
        f"SELECT DISTINCT date FROM {db}.load_log FINAL WHERE state = 'committed' ORDER BY date").result_rows]
    if not loaded:
        return True, {"loaded_days": 0, "missing_days": "none"}
    expected = {loaded[0] + dt.timedelta(days=i) for i in range((loaded[-1] - loaded[0]).days + 1)}
    missing = sorted(expected - set(loaded))
    return not missing, {
        "loaded_days": len(loaded),
        "first_day": loaded[0].isoformat(),
        "last_day": loaded[-1].isoformat(),
        "missing_days": ", ".join(d.isoformat() for d in missing[:60]) or "none",
        "missing_count": len(missing),
    }


def matches_upstream(day: dt.date, loaded: int, upstream: int) -> tuple[bool, dict]:
    """Downloads loaded for a day against an upstream COUNT(*) taken right after the extract."""
    return loaded == upstream, {"day": day.isoformat(), "loaded": loaded, "upstream": upstream,
                                "difference": upstream - loaded}
