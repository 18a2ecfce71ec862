"""The download facts' checks: their specs, and how each run reports them.

A run loads a range of days and reports each check twice: once for the run (failed if any day
failed it, with every day's evidence), and once for each day's partition, so the UI shows a day's
own result (a range run's results alone, without a partition, left every day's checks "skipped":
found by a newcomer). The verdicts a later schedule tick needs are kept on the day's
materialization (:func:`verdict_metadata`): a partition's check results are replaced by the next
run's.
"""

from __future__ import annotations

import datetime as dt

from dagster import AssetCheckEvaluation, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from pepy_pipeline.assets.keys import DOWNLOADS, ROLLUPS
from pepy_pipeline.warehouse.day_checks import CheckOutcome
from pepy_pipeline.warehouse.empty_days import ACCEPTED_EMPTY

CHECKS = (
    AssetCheckSpec("totals_match_source", asset=DOWNLOADS, blocking=True,
                   description="Staged rows and downloads equal what the source reported (before commit)."),
    AssetCheckSpec("volume_within_bands", asset=DOWNLOADS, blocking=True,
                   description="The day's downloads against the same-weekday median in the weeks around it "
                               "(nearby days of the same kind early in a backfill): a partial day upstream is "
                               "refused (fail band) or flagged (warn band)."),
    AssetCheckSpec("rollups_match_facts", asset=ROLLUPS, blocking=True,
                   description="Every staged rollup and dimension sums to the staged facts (before commit)."),
    AssetCheckSpec("values_plausible", asset=DOWNLOADS, blocking=False,
                   description="No zero counts, malformed project names or Python versions (upstream's "
                               "content: a warning, never holds a day back)."),
    AssetCheckSpec("no_gaps", asset=DOWNLOADS, blocking=False,
                   description="No missing day between the first and the last loaded day."),
    AssetCheckSpec("matches_upstream_count", asset=DOWNLOADS, blocking=False,
                   description="Downloads loaded equal a COUNT(*) of the day upstream (sources that can "
                               "count: BigQuery). Upstream partial or late days show up here."),
)


def check_results(outcomes: list[tuple[dt.date | None, CheckOutcome]], run_fails: bool = False):
    """One result per check for the run: failed if any day failed it, with each day's evidence
    (the failing days' first) as metadata. A check no day got to has no result in a run that
    fails (Dagster shows it not executed; reported passed, it hid an earlier failure of the same
    check: found by a guard audit); a run that succeeds must report every check."""
    for spec in CHECKS:
        mine = [(day, o) for day, o in outcomes if o.name == spec.name]
        if not mine and run_fails:
            continue
        if not mine:
            note = ("not evaluated in this run: no day got this far, or the source cannot tell (the sample "
                    "source has no upstream count)")
            yield AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True,
                                   metadata={"note": note})
            continue
        failing = [(day, o) for day, o in mine if not o.passed]
        blocking_failed = any(o.blocking for _, o in failing)
        severity = _severity(spec, blocking_failed)
        evidence = {}  # a day's failing evidence first, and never replaced by its passing one
        for day, o in failing + [m for m in mine if m[1].passed]:
            evidence.setdefault(day.isoformat() if day else "run", o.metadata)
        yield AssetCheckResult(
            asset_key=spec.asset_key, check_name=spec.name, passed=not failing, severity=severity,
            metadata={"days_checked": len(mine), "days_failed": ", ".join(
                          (d.isoformat() if d else "run") for d, _ in failing) or "none",
                      "evidence": MetadataValue.json(evidence),
                      **({k: v for k, v in (failing or mine)[0][1].metadata.items()
                          if isinstance(v, (int, float, str))})})


#: On a day's materialization: its volume was committed in the warn band below the median (a
#: partial day upstream not yet refused?); the schedule may load such a recent day again.
VOLUME_LOW = "volume_low"
#: On a day's materialization: whether the downloads loaded equal upstream's COUNT(*) (sources
#: that can count), so a read cut short is told from a day upstream itself has short.
UPSTREAM_COUNT_MATCHES = "upstream_count_matches"


def verdict_metadata(outcomes: list[CheckOutcome]) -> dict:
    """The volume and upstream-count verdicts, kept on the day's materialization: a run's check
    results are replaced by the next run's, the partition's materialization stays."""
    by_name = {o.name: o for o in outcomes}
    volume, upstream = by_name.get("volume_within_bands"), by_name.get("matches_upstream_count")
    metadata = {VOLUME_LOW: False}
    if vouched_by_volume(volume):
        metadata = {"volume_ratio": volume.metadata["ratio"], "volume_reference": volume.metadata.get("reference", ""),
                    VOLUME_LOW: not volume.passed and volume.metadata["ratio"] < 1}
    if upstream is not None and "error" not in upstream.metadata:
        metadata[UPSTREAM_COUNT_MATCHES] = upstream.passed
    if volume is not None and volume.metadata.get(ACCEPTED_EMPTY):
        metadata[ACCEPTED_EMPTY] = True
    return metadata


def _severity(spec: AssetCheckSpec, failed_blocking: bool) -> AssetCheckSeverity:
    """ERROR for a blocking check that refused a day, and for a loaded day that upstream's own
    count contradicts; otherwise a warning."""
    return AssetCheckSeverity.ERROR if failed_blocking or spec.name == "matches_upstream_count" \
        else AssetCheckSeverity.WARN


def day_evaluations(outcomes: list[tuple[dt.date | None, CheckOutcome]],
                    days: list[dt.date]) -> list[AssetCheckEvaluation]:
    """Each of the run's ``days``' own result of each check evaluated for it, for its partition:
    failed if any of its outcomes failed, with the failing evidence. Run-wide outcomes
    (``no_gaps``: a gap elsewhere is no fault of the day) and outcomes of days outside the run
    (earlier days compared now) stay in the run's result alone."""
    by_spec = {spec.name: spec for spec in CHECKS}
    grouped: dict[tuple[dt.date, str], list[CheckOutcome]] = {}
    for day, outcome in outcomes:
        if day in days:
            grouped.setdefault((day, outcome.name), []).append(outcome)
    evaluations = []
    for (day, name), mine in sorted(grouped.items()):
        spec, failing = by_spec[name], [o for o in mine if not o.passed]
        shown = (failing or mine)[0].metadata
        evaluations.append(AssetCheckEvaluation(
            asset_key=spec.asset_key, check_name=name, passed=not failing, partition=day.isoformat(),
            severity=_severity(spec, any(o.blocking for o in failing)), blocking=spec.blocking,
            metadata={k: v for k, v in shown.items() if isinstance(v, (int, float, str, bool))}))
    return evaluations


def vouched_by_volume(volume: CheckOutcome | None) -> bool:
    """Whether a day's volume outcome compared it with days that vouch for it: not when too few
    days were loaded around it, nor when it was only far above nearby days that may be partial."""
    return volume is not None and "ratio" in volume.metadata and not volume.metadata.get("unconfirmed")
