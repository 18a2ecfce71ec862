"""Optional alerts: a JSON POST to ``PEPY_ALERT_WEBHOOK_URL`` when a run fails (a failed blocking
check fails its run) or a run succeeds with failed ERROR checks (a scheduled load whose only
failed check is ``serves_yesterday`` leaves it to the last load of its tick). The command line
posts the same alerts for its own runs. Off when the variable is unset.

The URL is read when an alert is sent, never stored in a definition: webhook URLs often carry a
token, and definitions are shown in the UI.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)
from dagster._core.storage.tags import SCHEDULE_NAME_TAG, TICK_ID_TAG

from pepy_pipeline.assets.keys import SERVES_YESTERDAY
from pepy_pipeline.load_runs import loads_in_flight
from pepy_pipeline.schedules import daily_downloads_schedule
from pepy_pipeline.settings import load_settings

WEBHOOK_VARIABLE = "PEPY_ALERT_WEBHOOK_URL"  # the setting ``alert_webhook_url``
TIMEOUT_SECONDS = 10


def webhook_url() -> str:
    """Read at each use, not at import: the code location's definitions hold no address."""
    return load_settings().alert_webhook_url


def failed_checks(instance, run_id: str, page: int = 1000) -> list[dict]:
    """The run's failed checks of ERROR severity (the blocking ones fail the run): the run's own
    results, each with every day's evidence, not again each day's (reported for its partition)."""
    failed = []
    for record in _all_records(instance, run_id, DagsterEventType.ASSET_CHECK_EVALUATION, page):
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR and evaluation.partition is None:
            failed.append({"asset": evaluation.asset_key.to_user_string(), "check": evaluation.check_name,
                           "blocking": bool(evaluation.blocking),
                           "metadata": {k: str(v.value) for k, v in evaluation.metadata.items()}})
    return failed


def _all_records(instance, run_id: str, of_type: DagsterEventType, page: int = 1000):
    """Every event of ``of_type`` in the run, page by page: a long range run logs a result per
    day and check before its own (found in review: past 1,000 of them, one page lost them)."""
    cursor = None
    while True:
        connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=of_type, limit=page)
        yield from connection.records
        if not connection.has_more:
            return
        cursor = connection.cursor


def post(payload: dict) -> None:
    """POST ``payload`` as JSON to the webhook; a failure is raised so the sensor tick shows it."""
    url = webhook_url()
    if not url:
        return
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "pepy-alerts"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - operator's URL
        response.read()


def _run_facts(run) -> dict:
    return {"job": run.job_name, "run_id": run.run_id,
            "partitions": {k: v for k, v in run.tags.items() if "partition" in k}}


def left_to_a_later_load(instance, run, failed: list[dict]) -> bool:
    """``run`` is one of a schedule tick's loads, only ``serves_yesterday`` failed, and another
    load of the same tick is queued or running: on a catch-up morning every run publishes with
    the holes the next ones fill, and each alerted (9 alerts after a 9-day outage: an operations
    probe). The tick's last load alerts if they stay open. Nothing else holds an alert back: not
    the 09:05 check, not a load of another tick or a backfill (a hung run would silence every
    morning's alert; found in review)."""
    tick = run.tags.get(TICK_ID_TAG)
    if not (failed and all(check["check"] == SERVES_YESTERDAY for check in failed) and tick
            and run.tags.get(SCHEDULE_NAME_TAG) == daily_downloads_schedule.name):
        return False
    return any(other.run_id != run.run_id and other.tags.get(TICK_ID_TAG) == tick
               for other in loads_in_flight(instance))


def alert_on_finished_run(instance, run, failure_message: str | None) -> None:
    """Post the alert a finished run calls for, if any: its failure (``failure_message``), or the
    failed ERROR checks of a successful run."""
    failed = failed_checks(instance, run.run_id)
    if failure_message is not None:
        post({"event": "run_failure", **_run_facts(run), "message": failure_message, "failed_checks": failed})
    elif failed and not left_to_a_later_load(instance, run, failed):
        post({"event": "check_failure", **_run_facts(run), "failed_checks": failed})


def alert_on_command_line_run(instance, run_id: str) -> None:
    """The command line's runs (executed in its process) have no code location, and Dagster's
    run-status sensors never see them: a failed CLI load alerted no one (found by a newcomer).
    The CLI calls this after each of its runs instead; a failure to post is printed, never fatal."""
    if not webhook_url():
        return
    run = instance.get_run_by_id(run_id)
    failure = None
    if run.status == DagsterRunStatus.FAILURE:
        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1).records
        failure = records[0].event_log_entry.message if records else "the run failed"
    try:
        alert_on_finished_run(instance, run, failure)
    except Exception as error:  # noqa: BLE001 - a malformed URL is a ValueError: never stop the load
        print(f"alert for run {run_id} not posted: {error}", file=sys.stderr)


@run_failure_sensor(name="alert_on_run_failure", default_status=DefaultSensorStatus.RUNNING,
                    description=f"POSTs a JSON alert to ${WEBHOOK_VARIABLE} when a run fails.")
def alert_on_run_failure(context: RunFailureSensorContext):
    alert_on_finished_run(context.instance, context.dagster_run, context.failure_event.message or "the run failed")


@run_status_sensor(name="alert_on_failed_checks", run_status=DagsterRunStatus.SUCCESS,
                   default_status=DefaultSensorStatus.RUNNING,
                   description=f"POSTs a JSON alert to ${WEBHOOK_VARIABLE} when a successful run has failed "
                               "ERROR checks.")
def alert_on_failed_checks(context: RunStatusSensorContext):
    alert_on_finished_run(context.instance, context.dagster_run, None)


def alert_sensors() -> list:
    """The alert sensors, or none when no webhook is configured."""
    return [alert_on_run_failure, alert_on_failed_checks] if webhook_url() else []
