"""Checks on one day, run on its STAGED tables before it is committed.

A blocking check that fails keeps the day out of the warehouse (its previous data stays visible);
its evidence becomes the check's metadata in the Dagster UI. Blocking: the invariants we own
(staged totals = source totals, rollups = facts) and the day's volume against the same-weekday
median around it (an upstream partial day) and, for a reload, against what the day already has.
Warning only: upstream content we do not own (odd project names or Python versions), so one
strange name cannot hold back a backfilled day.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from pepy_pipeline.warehouse import measures
from pepy_pipeline.warehouse.loader import StagedDay
from pepy_pipeline.warehouse.rollup_dimensions import DERIVED_DIMENSIONS, FACT_DIMENSIONS
from pepy_warehouse.identifiers import identifier

_PEP503 = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
_PYTHON_MINOR = r"^[0-9]+\.[0-9]+$"


@dataclass(frozen=True)
class VolumeBands:
    """Ratios of a day's downloads to the same-weekday median around it: outside the fail band the
    day is refused, outside the warn band it is committed with a warning."""

    fail_below: float = 0.5
    warn_below: float = 0.8
    warn_above: float = 1.5
    fail_above: float = 3.0
    #: Same-weekday days compared with (7, 14, ... days before and after) and how many must be
    #: loaded; with fewer, the days up to ``nearby_days`` around it of the same kind.
    weeks: int = 4
    min_reference_days: int = 2
    nearby_days: int = 10
    #: Nearby days needed: a median of 3 is not moved by one odd day early in a backfill.
    min_nearby_days: int = 3
    #: A reload is refused below this share of the downloads the day already has: upstream only
    #: adds late rows to a day, so fewer means a partial read (a day upstream is rewriting).
    reload_fail_below: float = 0.98


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    #: False: a warning; the day is committed anyway.
    blocking: bool
    metadata: dict = field(default_factory=dict)


def check_staged_day(client, staged: StagedDay, bands: VolumeBands) -> list[CheckOutcome]:
    return [
        staged_totals_match_source(client, staged),
        rollups_match_facts(client, staged),
        volume_within_bands(client, staged, bands),
        values_plausible(client, staged),
    ]


def refused(outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    return [o for o in outcomes if o.blocking and not o.passed]


def staged_totals_match_source(client, staged: StagedDay) -> CheckOutcome:
    rows, downloads = client.query(f"SELECT count(), sum(downloads) FROM {staged.facts}").result_rows[0]
    passed = (int(rows), int(downloads)) == (staged.rows, staged.downloads)
    return CheckOutcome("totals_match_source", passed, True, {
        "day": staged.day.isoformat(), "staged_rows": int(rows), "staged_downloads": int(downloads),
        "source_rows": staged.rows, "source_downloads": staged.downloads})


def rollups_match_facts(client, staged: StagedDay) -> CheckOutcome:
    """Every rollup (versions, each dimension, the '__all__' rows) sums to the staged facts in
    every measure, and no dimension is missing: one left out (found by a probe) would commit a
    day that ``?by=`` answers as having nothing, while each dimension present still added up."""
    totals = ", ".join(f"sum({name})" for name in measures.MEASURES)
    # Per measure: (the projects' sum, the '__all__' row's sum).
    split = ", ".join(f"sumIf({name}, project != '__all__'), sumIf({name}, project = '__all__')"
                      for name in measures.MEASURES)
    facts = _ints(client.query(f"SELECT {measures.FROM_FACTS} FROM (SELECT *, {measures.FLAGS} "
                               f"FROM {staged.facts})").result_rows[0])
    twice = tuple(value for value in facts for _ in range(2))  # what each ``split`` must give
    t = staged.tables
    daily = _ints(client.query(f"SELECT {split} FROM {t['project_daily']}").result_rows[0])
    versions = _ints(client.query(f"SELECT {totals} FROM {t['project_version_daily']}").result_rows[0])
    dimensions = {row[0]: _ints(row[1:]) for row in client.query(
        f"SELECT dimension, {split} FROM {t['project_dimension_daily']} GROUP BY dimension "
        "ORDER BY dimension").result_rows}
    problems = [f"{name}: {got} vs facts {want}" for name, got, want in (
        ("project_daily", daily, twice), ("project_version_daily", versions, facts),
        *((f"dimension {name}", got, twice) for name, got in dimensions.items())) if got != want]
    missing = sorted({*FACT_DIMENSIONS, *DERIVED_DIMENSIONS} - dimensions.keys())
    if missing and any(facts):  # an empty day (accepted as such) has none, and needs none
        problems.append("dimensions missing: " + ", ".join(missing))
    return CheckOutcome("rollups_match_facts", not problems, True, {
        "day": staged.day.isoformat(), "facts_downloads": facts[0], "dimensions": len(dimensions),
        "problems": "; ".join(problems[:20]) or "none"})


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v or 0) for v in values)


def volume_references(day: dt.date, bands: VolumeBands) -> tuple[list[dt.date], list[dt.date]]:
    """(the same weekday up to ``weeks`` weeks before and after, the days up to ``nearby_days``
    before and after of the same kind, weekday or weekend). Both directions: a backfill run
    backwards, or a day reloaded inside the history, has its references after it."""
    same_weekday = [day + dt.timedelta(days=7 * k) for k in range(-bands.weeks, bands.weeks + 1) if k]
    weekend = day.weekday() >= 5
    nearby = [day + dt.timedelta(days=k) for k in range(-bands.nearby_days, bands.nearby_days + 1)
              if k and ((day + dt.timedelta(days=k)).weekday() >= 5) == weekend]
    return same_weekday, nearby


def _references(client, database: str, day: dt.date, bands: VolumeBands):
    """(downloads of ``day`` and of its loaded references, the references compared with, their
    kind, how many are needed)."""
    same_weekday, nearby = volume_references(day, bands)
    found = dict(client.query(
        f"SELECT date, sum(downloads) FROM {identifier(database)}.project_daily "
        "WHERE project = '__all__' AND date IN {days:Array(Date)} GROUP BY date HAVING sum(downloads) > 0",
        parameters={"days": sorted({*same_weekday, *nearby, day})},
    ).result_rows)
    references, kind, enough = [d for d in same_weekday if d in found], "same weekday", bands.min_reference_days
    if len(references) < enough:
        references, kind = [d for d in nearby if d in found], "nearby days of the same kind (weekday or weekend)"
        enough = bands.min_nearby_days
    return found, references, kind, enough


def compared_after_commit(client, database: str, day: dt.date, bands: VolumeBands) -> CheckOutcome | None:
    """A committed day that had too few loaded days around it to be compared (early in a
    backfill), compared now with the days loaded since (None: still too few). A warning: the day
    is committed; it names the day to reload."""
    found, references, kind, enough = _references(client, database, day, bands)
    if day not in found or len(references) < enough:
        return None
    median = statistics.median(int(found[d]) for d in references)
    ratio = int(found[day]) / median
    # Far above nearby days that may themselves be partial ones committed uncompared is their
    # sign, not this day's: they get their own warning when compared.
    above = ratio > bands.fail_above and kind == "same weekday"
    passed = ratio >= bands.fail_below and not above
    return CheckOutcome("volume_within_bands", passed, False, {
        "day": day.isoformat(), "downloads": int(found[day]), "reference": kind,
        "reference_days": ", ".join(d.isoformat() for d in references), "median": int(median),
        "ratio": round(ratio, 4), "fail_band": f"< {bands.fail_below} or > {bands.fail_above}",
        "verdict": "compared after it was committed, with the days loaded since: " + (
            "within the fail band" if passed and ratio <= bands.fail_above
            else "far above the nearby days compared with (were they partial?)" if passed
            else "outside the fail band (a partial or duplicated day upstream?): check upstream and reload it")})


def volume_within_bands(client, staged: StagedDay, bands: VolumeBands) -> CheckOutcome:
    """The day's downloads against the median of the same weekday in the weeks around it (loaded
    days only): a half day upstream is refused instead of published. With fewer than
    ``min_reference_days`` of those (early in a backfill), against the median of at least
    ``min_nearby_days`` nearby days of the same kind, the fail band only (weekdays differ more
    among themselves than one weekday across weeks, and the warn band's warnings are retried), and
    above it a warning only (those days may be partial ones committed uncompared). A
    reload is also refused when it has fewer downloads than the day already has
    (``reload_fail_below``): it would replace good data with a partial read, whatever the medians
    say."""
    found, references, kind, enough = _references(client, staged.database, staged.day, bands)
    committed = int(found.get(staged.day, 0))
    metadata = {"day": staged.day.isoformat(), "downloads": staged.downloads,
                "reference_days": ", ".join(d.isoformat() for d in references) or "none"}
    shrinks = False
    if committed:
        shrinks = staged.downloads < bands.reload_fail_below * committed
        metadata.update({"committed_downloads": committed, "ratio_to_committed": round(staged.downloads / committed, 4),
                         "reload_fail_below": bands.reload_fail_below})
    verdict = ("refused: a reload with fewer downloads than the day already has (upstream still rewriting "
               "the day?); the loaded day stays")
    if len(references) < enough:
        metadata["note"] = (f"fewer than {bands.min_reference_days} same-weekday or {bands.min_nearby_days} nearby "
                            "days loaded to compare with: not compared")
        if shrinks:
            metadata["verdict"] = verdict
        return CheckOutcome("volume_within_bands", not shrinks, True, metadata)
    median = statistics.median(int(found[d]) for d in references)
    ratio = staged.downloads / median
    warns = kind == "same weekday"
    metadata.update({"reference": kind, "median": int(median), "ratio": round(ratio, 4),
                     "fail_band": f"< {bands.fail_below} or > {bands.fail_above}",
                     "warn_band": f"< {bands.warn_below} or > {bands.warn_above}" if warns else "not applied"})
    if ratio > bands.fail_above and not warns:
        # Nearby days are compared with early in a backfill, when they were themselves committed
        # uncompared: a day far above them more likely shows them partial than itself duplicated,
        # and refusing it would refuse every good day after a partial start (found in review).
        metadata["verdict"] = ("committed with a warning: far above the nearby days compared with; were they "
                               "partial? (each is compared again at the end of its run, and this day by later "
                               "runs, as one not compared)")
        metadata["unconfirmed"] = True  # not a comparison that vouches for the day
        return CheckOutcome("volume_within_bands", False, False, metadata)
    if ratio < bands.fail_below or ratio > bands.fail_above:
        metadata["verdict"] = "refused: outside the fail band (a partial or duplicated day upstream?)"
        return CheckOutcome("volume_within_bands", False, True, metadata)
    if shrinks:
        metadata["verdict"] = verdict
        return CheckOutcome("volume_within_bands", False, True, metadata)
    if warns and (ratio < bands.warn_below or ratio > bands.warn_above):
        metadata["verdict"] = "committed with a warning: outside the warn band"
        return CheckOutcome("volume_within_bands", False, False, metadata)
    metadata["verdict"] = "within the bands"
    return CheckOutcome("volume_within_bands", True, True, metadata)


def values_plausible(client, staged: StagedDay) -> CheckOutcome:
    """No zero counts, malformed project names or Python versions (a warning: upstream's data)."""
    zero, bad_project, bad_python, examples = client.query(
        f"""SELECT countIf(downloads = 0),
                   countIf(NOT match(project, {{pep503:String}})),
                   countIf(python_minor IS NOT NULL AND python_minor != 'invalid'
                           AND NOT match(assumeNotNull(python_minor), {{minor:String}})),
                   groupUniqArrayIf(5)(project, NOT match(project, {{pep503:String}}))
            FROM {staged.facts}""",
        parameters={"pep503": _PEP503, "minor": _PYTHON_MINOR},
    ).result_rows[0]
    return CheckOutcome("values_plausible", (zero, bad_project, bad_python) == (0, 0, 0), False, {
        "day": staged.day.isoformat(), "rows_with_zero_downloads": int(zero),
        "rows_with_malformed_project": int(bad_project), "rows_with_malformed_python_minor": int(bad_python),
        "malformed_project_examples": ", ".join(examples) or "none"})
