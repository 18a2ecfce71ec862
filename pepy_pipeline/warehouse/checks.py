"""Data-quality queries over loaded days; the Dagster asset checks report their findings.

Each function returns ``(passed, metadata)`` for a list of days, so a run that loaded a range
checks every day of it.
"""

from __future__ import annotations

import datetime as dt

from pepy_pipeline.warehouse.sql_files import identifier

_PEP503 = r'^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'
_PYTHON_MINOR = r'^[0-9]+\.[0-9]+$'


def _per_day(client, sql: str, days: list[dt.date]) -> dict[dt.date, tuple]:
    rows = client.query(sql, parameters={"days": days}).result_rows
    return {row[0]: tuple(row[1:]) for row in rows}


def days_not_empty(client, database: str, days: list[dt.date]) -> tuple[bool, dict]:
    db = identifier(database)
    counts = _per_day(client, f"SELECT date, count() FROM {db}.downloads_daily WHERE date IN {{days:Array(Date)}} GROUP BY date", days)
    empty = [d.isoformat() for d in days if counts.get(d, (0,))[0] == 0]
    return not empty, {"empty_days": ", ".join(empty) or "none", "days_checked": len(days)}


def totals_match_source(client, database: str, days: list[dt.date]) -> tuple[bool, dict]:
    """The committed fact rows add up to exactly what the source reported for each day."""
    db = identifier(database)
    loaded = _per_day(client, f"SELECT date, count(), sum(downloads) FROM {db}.downloads_daily WHERE date IN {{days:Array(Date)}} GROUP BY date", days)
    reported = _per_day(client, f"SELECT date, source_rows, source_downloads FROM {db}.load_log FINAL WHERE date IN {{days:Array(Date)}}", days)
    mismatched = [
        f"{d}: loaded {loaded.get(d)} vs source {reported.get(d)}" for d in days if loaded.get(d) != reported.get(d)
    ]
    return not mismatched, {
        "mismatches": "; ".join(mismatched) or "none",
        "downloads": int(sum(v[1] for v in loaded.values())),
    }


def values_plausible(client, database: str, days: list[dt.date]) -> tuple[bool, dict]:
    """No zero counts, malformed project names or Python versions."""
    db = identifier(database)
    zero, bad_project, bad_python = client.query(
        f"""SELECT countIf(downloads = 0),
                   countIf(NOT match(project, {{pep503:String}})),
                   countIf(python_minor IS NOT NULL AND python_minor != 'invalid'
                           AND NOT match(assumeNotNull(python_minor), {{minor:String}}))
            FROM {db}.downloads_daily WHERE date IN {{days:Array(Date)}}""",
        parameters={"days": days, "pep503": _PEP503, "minor": _PYTHON_MINOR},
    ).result_rows[0]
    return (zero, bad_project, bad_python) == (0, 0, 0), {
        "rows_with_zero_downloads": int(zero),
        "rows_with_malformed_project": int(bad_project),
        "rows_with_malformed_python_minor": int(bad_python),
    }


def rollups_match_facts(client, database: str, days: list[dt.date]) -> tuple[bool, dict]:
    """Every rollup (each dimension, the version table, the '__all__' rows) sums to the facts."""
    db = identifier(database)
    facts = _per_day(client, f"SELECT date, sum(downloads) FROM {db}.downloads_daily WHERE date IN {{days:Array(Date)}} GROUP BY date", days)
    probes = {
        "project_daily": f"SELECT date, sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__') FROM {db}.project_daily WHERE date IN {{days:Array(Date)}} GROUP BY date",
        "project_version_daily": f"SELECT date, sum(downloads) FROM {db}.project_version_daily WHERE date IN {{days:Array(Date)}} GROUP BY date",
    }
    problems = []
    for name, sql in probes.items():
        for day, sums in _per_day(client, sql, days).items():
            if any(s != facts.get(day, (0,))[0] for s in sums):
                problems.append(f"{name} {day}: {sums} vs facts {facts.get(day)}")
    dims = client.query(
        f"""SELECT date, dimension, sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__')
            FROM {db}.project_dimension_daily WHERE date IN {{days:Array(Date)}} GROUP BY date, dimension""",
        parameters={"days": days},
    ).result_rows
    for day, dimension, per_project, all_projects in dims:
        expected = facts.get(day, (0,))[0]
        if per_project != expected or all_projects != expected:
            problems.append(f"dimension {dimension} {day}: {per_project}/{all_projects} vs facts {expected}")
    missing = [d.isoformat() for d in days if d in facts and d not in {r[0] for r in dims}]
    problems += [f"no dimension rollups for {d}" for d in missing]
    return not problems, {"problems": "; ".join(problems[:20]) or "none", "days_checked": len(days)}


def loaded_day_gaps(client, database: str) -> tuple[bool, dict]:
    """Days missing between the first and last loaded day."""
    db = identifier(database)
    loaded = [row[0] for row in client.query(f"SELECT DISTINCT date FROM {db}.load_log FINAL ORDER BY date").result_rows]
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


def matches_upstream(loads, upstream: dict[dt.date, int]) -> tuple[bool, dict]:
    """Downloads loaded per day against an upstream COUNT(*) taken right after the extract."""
    if not upstream:
        return True, {"compared_days": 0, "note": "this source cannot count upstream"}
    mismatched = [f"{l.day}: loaded {l.downloads:,}, upstream {upstream[l.day]:,}"
                  for l in loads if l.day in upstream and upstream[l.day] != l.downloads]
    return not mismatched, {"compared_days": len(upstream), "mismatches": "; ".join(mismatched) or "none"}
