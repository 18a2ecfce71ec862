"""The API's SQL over the serving tables: one function per question, values always bound as
server-side parameters, the table database filled in by the reader (never from the request)."""

from __future__ import annotations

import datetime as dt

from pepy_api.store.reader import Reader  # or a per-request BoundReader


#: Column holding the measure asked for: all downloads, without mirrors, CI only, or non-CI.
MEASURES = {
    "all": "downloads",
    "without_mirrors": "downloads_without_mirrors",
    "ci": "ci_downloads",
    "not_ci": "downloads - ci_downloads",
    # pypistats.org's arithmetic (see pepy_pipeline/warehouse/measures.py).
    "pypistats_with_mirrors": "pypistats_downloads",
    "pypistats_without_mirrors": "pypistats_without_mirrors",
}
#: Date bucket expressions for ``granularity``.
BUCKETS = {"day": "date", "week": "toMonday(date)", "month": "toStartOfMonth(date)"}


#: Version-days column holding each day's JSON piece per measure (pepy's answers use these two).
VERSION_DAY_JSON = {"all": "downloads_json", "not_ci": "not_ci_json"}


def version_days_json(reader: Reader, project: str, start: dt.date, end: dt.date,
                      measure: str = "all", with_versions: bool = True) -> tuple[str, list[str]]:
    """pepy's ``{"<day>": {"<version>": downloads}}`` for one project (days ascending, versions by
    name, zero cells left out) as JSON text, and the versions with downloads in it.

    Reads one row per day (the newest commit of each day, its JSON piece and versions taken from
    that one row together) and joins the pieces written with it (sql/007_version_day_json.sql):
    ~120 rows where a big project has ~10^5 (day, version) cells. A day's ``versions`` all have
    downloads (the rollup keeps only versions with some), so they can be listed for ``"all"``
    only; ``with_versions=False`` (pro) reads the pieces alone and returns no versions."""
    if with_versions and measure != "all":
        raise ValueError("versions are listed for the 'all' measure only")
    column = VERSION_DAY_JSON[measure]
    newest = (f"argMax((versions, {column}), committed_at) AS newest, newest.1 AS vs, newest.2 AS piece"
              if with_versions else f"argMax({column}, committed_at) AS piece")
    # A day without a piece has no versions with downloads: no -If needed (and 15-20% faster than
    # arrayDistinct(arrayFlatten(groupArray(..))) for a project with 2,000 versions).
    versions = ", groupUniqArrayArray(vs)" if with_versions else ""
    rows = reader.query(
        "SELECT concat('{', arrayStringConcat(arrayMap(d -> d.2, arraySort(groupArrayIf((date, piece), piece != ''))), ','), '}')"
        f"{versions} "
        "FROM ("
        f"    SELECT date, {newest} "
        "    FROM __DB__.project_version_days "
        "    WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
        "    GROUP BY date"
        ")",
        {"project": project, "start": start, "end": end},
    )
    return rows[0][0], list(rows[0][1]) if with_versions else []


def daily_downloads(reader: Reader, project: str, start: dt.date, end: dt.date,
                    measure: str = "all", granularity: str = "day") -> list[tuple[dt.date, int]]:
    bucket = BUCKETS[granularity]
    return reader.query(
        f"SELECT {bucket} AS bucket, sum({MEASURES[measure]}) AS n FROM __DB__.project_daily "
        "WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
        # A reload without the project leaves a row and its negation until the month merges.
        "GROUP BY bucket HAVING n > 0 ORDER BY bucket",
        {"project": project, "start": start, "end": end},
    )


def overall_downloads(reader: Reader, project: str, start: dt.date,
                      end: dt.date) -> list[tuple[dt.date, int, int]]:
    """(date, with mirrors, without mirrors) for pypistats' ``overall``, by its arithmetic."""
    return reader.query(
        "SELECT date, sum(pypistats_downloads) AS w, sum(pypistats_without_mirrors) FROM __DB__.project_daily "
        "WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
        "GROUP BY date HAVING w > 0 ORDER BY date",
        {"project": project, "start": start, "end": end},
    )


def dimension_downloads(reader: Reader, project: str, dimension: str, start: dt.date,
                        end: dt.date, measure: str = "all",
                        granularity: str = "day") -> list[tuple[dt.date, str, int]]:
    """(bucket, value, downloads) for one stored dimension; value '' is upstream NULL."""
    where = "project = {project:String} AND dimension = {dimension:String}"
    parameters = {"project": project, "dimension": dimension}
    if granularity == "month":
        return _by_month(reader, "project_dimension", "value", where, parameters, start, end, measure)
    bucket = BUCKETS[granularity]
    return reader.query(
        f"SELECT {bucket} AS bucket, value, sum({MEASURES[measure]}) AS n "
        f"FROM __DB__.project_dimension_daily WHERE {where} "
        "AND date BETWEEN {start:Date} AND {end:Date} "
        "GROUP BY bucket, value HAVING n > 0 ORDER BY bucket, value",
        {**parameters, "start": start, "end": end},
    )


def category_downloads(reader: Reader, project: str, dimension: str, start: dt.date, end: dt.date,
                       measure: str, null_values: tuple[str, ...]) -> list[tuple[str, dt.date, int]]:
    """pypistats.org's series: (category, day, downloads) ordered by category then day, where the
    values in ``null_values`` are merged into the category ``'null'``. Merged and sorted by the
    engine (done in Python: 10.33 against 9.71 ms p50 for a 180-day ``python_minor`` answer at real
    size, ~2,000 rows for the largest; no difference for ``system``'s ~900)."""
    return reader.query(
        f"SELECT if(value IN {{nulls:Array(String)}}, 'null', value) AS category, date, sum({MEASURES[measure]}) AS n "
        "FROM __DB__.project_dimension_daily "
        "WHERE project = {project:String} AND dimension = {dimension:String} "
        "AND date BETWEEN {start:Date} AND {end:Date} "
        "GROUP BY category, date HAVING n > 0 ORDER BY category, date",
        {"project": project, "dimension": dimension, "start": start, "end": end, "nulls": list(null_values)},
    )


def version_breakdown(reader: Reader, project: str, start: dt.date, end: dt.date,
                      measure: str = "all", granularity: str = "day") -> list[tuple[dt.date, str, int]]:
    if granularity == "month":
        return _by_month(reader, "project_version", "version", "project = {project:String}", {"project": project},
                         start, end, measure)
    bucket = BUCKETS[granularity]
    return reader.query(
        f"SELECT {bucket} AS bucket, version, sum({MEASURES[measure]}) AS n "
        "FROM __DB__.project_version_daily "
        "WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
        "GROUP BY bucket, version HAVING n > 0 ORDER BY bucket, version",
        {"project": project, "start": start, "end": end},
    )


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def whole_months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first day of the first and of the last month lying wholly in ``start..end``, if any."""
    first = start if start.day == 1 else next_month(start)
    after_end = end + dt.timedelta(days=1)
    last = (after_end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return (first, last) if first <= last else None


def _by_month(reader: Reader, family: str, key: str, where: str, parameters: dict, start: dt.date,
              end: dt.date, measure: str) -> list[tuple[dt.date, str, int]]:
    """(month, key, downloads) over ``start..end``, read as :func:`month_answer_sql` says."""
    return reader.query(month_answer_sql(family, key, where, measure),
                        {**parameters, **month_parameters(start, end)})


def month_answer_sql(family: str, key: str, where: str, measure: str) -> str:
    """A month-granular answer: the months lying wholly in the range from the month-grain table
    (``<family>_monthly``: one row per month and key instead of one per day and key), the
    partial months at either end from the daily one (``<family>_daily``)."""
    total = MEASURES[measure]
    return (
        f"SELECT bucket, {key}, sum(n) AS n FROM ("
        f"    SELECT month AS bucket, {key}, sum({total}) AS n FROM __DB__.{family}_monthly "
        f"    WHERE {where} AND month BETWEEN {{first_month:Date}} AND {{last_month:Date}} GROUP BY bucket, {key}"
        "    UNION ALL"
        f"    SELECT toStartOfMonth(date) AS bucket, {key}, sum({total}) AS n FROM __DB__.{family}_daily "
        f"    WHERE {where} AND (date BETWEEN {{head_start:Date}} AND {{head_end:Date}} "
        f"    OR date BETWEEN {{tail_start:Date}} AND {{tail_end:Date}}) GROUP BY bucket, {key}"
        f") GROUP BY bucket, {key} HAVING n > 0 ORDER BY bucket, {key}")


def month_parameters(start: dt.date, end: dt.date) -> dict:
    """:func:`month_answer_sql`'s ranges: the whole months, and the days before and after them."""
    months = whole_months(start, end)
    if months is None:  # no whole month: every day from the daily table (an empty range is a > b)
        return {"first_month": end + dt.timedelta(days=1), "last_month": end, "head_start": start, "head_end": end,
                "tail_start": end + dt.timedelta(days=1), "tail_end": end}
    after = next_month(months[1])
    return {"first_month": months[0], "last_month": months[1], "head_start": start,
            "head_end": months[0] - dt.timedelta(days=1), "tail_start": after, "tail_end": end}


def downloads_before(reader: Reader, project: str, day: dt.date) -> int:
    """A project's downloads on the days loaded before ``day`` (days before a gap)."""
    rows = reader.query("SELECT sum(downloads) FROM __DB__.project_daily WHERE project = {project:String} "
                        "AND date < {day:Date}", {"project": project, "day": day})
    return int(rows[0][0]) if rows else 0


def top_versions(reader: Reader, project: str, start: dt.date, end: dt.date,
                 limit: int, measure: str = "all") -> list[tuple[str, int]]:
    return reader.query(
        f"SELECT version, sum({MEASURES[measure]}) AS n FROM __DB__.project_version_daily "
        "WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
        "GROUP BY version HAVING n > 0 ORDER BY n DESC, version LIMIT {limit:UInt32}",
        {"project": project, "start": start, "end": end, "limit": limit},
    )
