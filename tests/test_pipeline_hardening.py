"""Pipeline hardening: secrets stay out of Dagster, the code location starts quietly, a held chDB
directory is named as such, passwords are redacted, and failures reach an alert webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import DagsterInstance, Definitions, build_sensor_context, define_asset_job, in_process_executor
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pepy_pipeline import alerts
from pepy_pipeline.assets.downloads import pypi_downloads
from pepy_pipeline.assets.publishing import serving_tables
from pepy_pipeline.definitions import build_resources
from pepy_pipeline.settings import PipelineSettings
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_warehouse.connection import WarehouseUnavailable, held_by_another_process, open_client, redact
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from tests.support.processes import ROOT
from tests.support.sources import RowsSource

PASSWORD = "S3cret-Pa55word"
KEY_B64 = "eyJwcml2YXRlX2tleSI6ICJzdXBlci1zZWNyZXQta2V5LW1hdGVyaWFsIn0="

SNAPSHOT_SCRIPT = """
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from pepy_pipeline.definitions import defs
print(serialize_value(RepositorySnap.from_def(defs.get_repository_def())))
"""


def code_location(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the real code location in a fresh interpreter (default warning filters, as at start) and print its snapshot."""
    env = {**os.environ, **extra_env}
    return subprocess.run([sys.executable, "-c", SNAPSHOT_SCRIPT], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_secrets_never_reach_the_repository_snapshot(tmp_path):
    done = code_location({
        "PEPY_HOME": str(tmp_path), "PEPY_SOURCE": "bigquery",
        "PEPY_CLICKHOUSE_DSN": f"http://pepy:{PASSWORD}@clickhouse:8123",
        "PEPY_BIGQUERY_CREDENTIALS_BASE64": KEY_B64,
        "PEPY_ALERT_WEBHOOK_URL": f"https://hooks.example/{PASSWORD}x",
    })
    assert done.returncode == 0, done.stderr[-3000:]
    snapshot = done.stdout
    assert len(snapshot) > 10_000  # the whole repository: jobs, assets, resources, sensors
    for secret in (PASSWORD, KEY_B64, KEY_B64[:24]):
        assert secret not in snapshot
    # The UI still says where the values come from.
    assert "PEPY_CLICKHOUSE_DSN" in snapshot and "PEPY_BIGQUERY_CREDENTIALS_BASE64" in snapshot
    assert "alert_on_run_failure" in snapshot


def test_the_code_location_starts_without_dagster_warnings(tmp_path):
    done = code_location({"PEPY_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-3000:]
    assert "freshness_checks" not in done.stdout  # superseded checks and their sensor are gone
    assert "CronFreshnessPolicy" in done.stdout  # the policy on the published data replaces them
    assert "alert_on_run_failure" not in done.stdout  # alerts are off without a webhook


def test_explicit_settings_still_build_plain_resources():
    settings = PipelineSettings(clickhouse_dsn="http://u:p@host:8123", bigquery_credentials_base64="abc")
    resources = build_resources(settings)
    assert resources["warehouse"].dsn == "http://u:p@host:8123"
    assert resources["source"].bigquery_credentials_base64 == "abc"


def test_a_writer_nice_the_resource_refuses_is_refused_as_a_setting():
    """Found by a newcomer: PEPY_WRITER_NICE=20 passed the settings, then the resource refused it
    and the code location failed to import, naming neither the variable nor its range."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="writer_nice"):
        PipelineSettings(writer_nice=20)
    assert build_resources(PipelineSettings(writer_nice=19))["warehouse"].writer_nice == 19


def test_a_setting_and_the_resource_field_it_feeds_have_one_default():
    """The same default is written in the settings (the environment), the resources (the
    launchpad) and the volume bands (code that calls the warehouse layer): a review found them
    repeated, so a change to one alone must fail here. ``writer_session`` differs on purpose (the
    resource's default serves in-process callers)."""
    import dataclasses

    from pepy_pipeline.warehouse.day_checks import VolumeBands

    settings = PipelineSettings.model_fields
    pairs = [(name, field) for resource in (ClickHouseWarehouse, DownloadSourceResource)
             for name, field in resource.model_fields.items() if name in settings and name != "writer_session"]
    assert len(pairs) >= 18, [name for name, _ in pairs]
    assert {name: field.default for name, field in pairs} == {name: settings[name].default for name, _ in pairs}
    bands = {f"volume_{f.name}": f.default for f in dataclasses.fields(VolumeBands) if f"volume_{f.name}" in settings}
    assert len(bands) == 5 and bands == {name: settings[name].default for name in bands}


def test_a_database_name_that_is_not_an_identifier_is_refused_where_it_enters():
    """Found in review: it passed the settings and the resource, and failed at the first SQL
    statement that embedded it."""
    from pydantic import ValidationError

    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    for bad in ("pepy; DROP TABLE x", "pepy-stats", "", "pepy.prod"):  # a database is not qualified
        with pytest.raises(ValidationError, match="not a valid ClickHouse database name"):
            PipelineSettings(database=bad)
        with pytest.raises(ValidationError, match="not a valid ClickHouse database name"):
            ClickHouseWarehouse(dsn="chdb:///tmp/x", database=bad)
    assert build_resources(PipelineSettings(database="pepy_2"))["warehouse"].database == "pepy_2"


@pytest.mark.parametrize("dsn, shown", [
    ("http://default:secret@127.0.0.1:9/pepy", "http://default:***@127.0.0.1:9/pepy"),
    ("http://pepy:p@ss@word@host:8123/db", "http://pepy:***@host:8123/db"),
    ("https://:secret@host:8443", "https://:***@host:8443"),
    ("http://host:8123/db?user=pepy&password=secret&x=1", "http://host:8123/db?user=pepy&password=***&x=1"),
    ("http://host:8123/?PASSWORD=secret", "http://host:8123/?PASSWORD=***"),
    ("chdb:///data/warehouse", "chdb:///data/warehouse"),
])
def test_redaction_hides_every_spelling_of_a_password(dsn, shown):
    assert redact(dsn) == shown
    assert "secret" not in redact(dsn) and "ss@word" not in redact(dsn)


def test_a_directory_held_by_another_process_is_named_in_words(tmp_path):
    directory = tmp_path / "held"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, clickhouse_connect\n"
         f"client = clickhouse_connect.get_client(interface='chdb', path={str(directory)!r})\n"
         "print('open', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert held_by_another_process(directory)
        with pytest.raises(WarehouseUnavailable) as error:
            open_client(f"chdb://{directory}")
        assert "another process has this chDB directory open" in str(error.value)
    finally:
        holder.kill()
        holder.wait()
    assert not held_by_another_process(directory)
    assert not held_by_another_process(tmp_path / "never-opened")


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        _Webhook.received.append({"content_type": self.headers["Content-Type"],
                                  "body": json.loads(self.rfile.read(length))})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, f"http://127.0.0.1:{server.server_port}/hook")
    yield _Webhook.received
    server.shutdown()
    server.server_close()


class MalformedRowsSource(DownloadSourceResource):
    """A real source that returns nothing for the day: the blocking check must fail (a malformed
    project name only warns since issue 9: upstream content we do not own)."""

    def build(self):
        return RowsSource({})


def test_a_failed_blocking_check_fails_the_run_and_posts_an_alert(webhook, dsn):
    defs = Definitions(
        assets=[pypi_downloads, serving_tables], jobs=[define_asset_job("load")], sensors=alerts.alert_sensors(),
        resources={"warehouse": ClickHouseWarehouse(dsn=dsn), "source": MalformedRowsSource()},
        executor=in_process_executor,
    )
    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def("alert_on_run_failure")
    instance = DagsterInstance.ephemeral()
    # A run-status sensor's first tick only sets its cursor; the daemon does the same.
    first = sensor.evaluate_tick(build_sensor_context(instance=instance, repository_def=repository))
    result = defs.resolve_job_def("load").execute_in_process(
        instance=instance, raise_on_error=False,
        tags={ASSET_PARTITION_RANGE_START_TAG: "2026-10-01", ASSET_PARTITION_RANGE_END_TAG: "2026-10-01"})
    assert not result.success
    assert webhook == []
    tick = sensor.evaluate_tick(build_sensor_context(instance=instance, repository_def=repository,
                                                     cursor=first.cursor))
    assert [reaction.error for reaction in tick.dagster_run_reactions] == [None]
    assert len(webhook) == 1 and webhook[0]["content_type"] == "application/json"
    alert = webhook[0]["body"]
    assert alert["event"] == "run_failure" and alert["run_id"] == result.run_id and alert["job"] == "load"
    assert [(c["asset"], c["check"], c["blocking"]) for c in alert["failed_checks"]] == [
        ("pypi_downloads", "totals_match_source", True)]
    assert "no rows" in alert["failed_checks"][0]["metadata"]["error"]


def test_a_catch_up_morning_alerts_a_missing_day_once_after_its_last_scheduled_load(webhook):
    """Found by an operations probe: every run of a catch-up morning publishes with the holes the
    next runs fill, and each alerted (9 alerts after a 9-day outage). Another queued load of the
    same tick holds back a load's alert of ``serves_yesterday`` alone; nothing else does: not a
    load of another tick (a hung one would silence every morning: found in review), not a
    backfill, not the 09:05 check, not another failed check."""
    from dagster import (AssetCheckEvaluation, AssetCheckSeverity, DagsterEvent, DagsterEventType,
                         DagsterRunStatus)
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._core.storage.tags import BACKFILL_ID_TAG, SCHEDULE_NAME_TAG, TICK_ID_TAG

    from pepy_pipeline.assets.publishing import SERVES_YESTERDAY, SERVING
    from pepy_pipeline.load_runs import LOAD_JOB
    from pepy_pipeline.schedules import daily_downloads_schedule

    repository = Definitions(sensors=[alerts.alert_on_failed_checks]).get_repository_def()
    sensor = repository.get_sensor_def("alert_on_failed_checks")
    instance = DagsterInstance.ephemeral()
    cursor = sensor.evaluate_tick(build_sensor_context(instance=instance, repository_def=repository)).cursor

    def tick_of(tick_id):
        return {SCHEDULE_NAME_TAG: daily_downloads_schedule.name, TICK_ID_TAG: tick_id}

    def queued(run_id, tags, job=LOAD_JOB):
        instance.add_run(DagsterRun(job_name=job, run_id=run_id, status=DagsterRunStatus.NOT_STARTED, tags=tags))

    def finish(run_id, *failed_checks, job=LOAD_JOB):
        for event, data in ((DagsterEventType.RUN_START, None),
                            *((DagsterEventType.ASSET_CHECK_EVALUATION, AssetCheckEvaluation(
                                asset_key=SERVING, check_name=name, passed=False, severity=AssetCheckSeverity.ERROR))
                              for name in failed_checks),
                            (DagsterEventType.RUN_SUCCESS, None)):
            instance.report_dagster_event(DagsterEvent(event.value, job_name=job, event_specific_data=data), run_id)

    def alerted():
        nonlocal cursor
        result = sensor.evaluate_tick(build_sensor_context(instance=instance, repository_def=repository,
                                                           cursor=cursor))
        cursor = result.cursor
        assert all(reaction.error is None for reaction in result.dagster_run_reactions)
        return [alert["body"]["run_id"] for alert in webhook]

    for run_id in ("yesterday", "catch-up-1", "catch-up-2"):
        queued(run_id, tick_of("monday"))
    queued("hung-since-sunday", tick_of("sunday"))
    queued("backfill-run", {BACKFILL_ID_TAG: "b1"})
    finish("yesterday", SERVES_YESTERDAY)
    finish("catch-up-1", SERVES_YESTERDAY)
    assert alerted() == []  # another load of Monday's tick is still queued: the holes may close
    finish("catch-up-2", SERVES_YESTERDAY)
    assert alerted() == ["catch-up-2"]  # the tick's last one, the holes still open
    queued("check", {}, job="check_served_day")
    finish("check", SERVES_YESTERDAY, job="check_served_day")
    queued("tuesday", tick_of("tuesday"))
    queued("tuesday-catch-up", tick_of("tuesday"))
    finish("tuesday", SERVES_YESTERDAY, "another_check")
    finish("backfill-run", SERVES_YESTERDAY)
    assert alerted()[1:] == ["check", "tuesday", "backfill-run"]  # the 09:05 check, another check, a backfill


@pytest.mark.slow  # the longest single tests (15-90 s each): CI runs them
def test_a_command_line_load_alerts_like_a_daemon_run(webhook, tmp_path):
    """Found by a newcomer: the command line's runs execute in its own process, outside any code
    location, and Dagster's run-status sensors never see them: a failed CLI load alerted no one."""
    from tests.support.processes import run_cli

    env = {"PEPY_HOME": str(tmp_path / "home"), "DAGSTER_HOME": "", "PEPY_SAMPLE_PROJECTS": "40",
           "PEPY_SAMPLE_ROWS_PER_DAY": "1500", alerts.WEBHOOK_VARIABLE: os.environ[alerts.WEBHOOK_VARIABLE]}
    done = run_cli(["load", "2026-10-01"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    # An old day's publish does not serve yesterday: the check fails, and that is an alert.
    assert [(a["body"]["event"], [c["check"] for c in a["body"]["failed_checks"]]) for a in webhook] == [
        ("check_failure", ["serves_yesterday"])]
    smaller = run_cli(["load", "2026-10-01"], {**env, "PEPY_SAMPLE_ROWS_PER_DAY": "500"})  # a reload that shrinks
    assert smaller.returncode == 1
    failure = [a["body"] for a in webhook[1:] if a["body"]["event"] == "run_failure"]
    assert len(failure) == 1 and failure[0]["job"] == "load_downloads" and failure[0]["message"]
    assert "volume_within_bands" in [c["check"] for c in failure[0]["failed_checks"]]


def test_a_killed_command_line_load_is_alerted_when_it_is_found_dead(webhook, monkeypatch):
    """Found by a guard audit: a command line killed mid-load (out of memory at real size) cannot
    alert, and Dagster's run-failure sensor sees only its own code location's runs: the run was
    marked failed by the dead-run sensor, and no one was told."""
    from dagster import instance_for_test

    from pepy_pipeline import sensors
    from tests.support.processes import unused_pid
    from tests.support.runs import started_load_run

    with instance_for_test() as instance:
        run_id = started_load_run(instance, process_pid=unused_pid())
        listed_by_another = sensors.dead_runs(instance)  # the sensor's listing, as the command line fails it
        assert sensors.fail_dead_runs(instance) == [run_id]
        monkeypatch.setattr(sensors, "dead_runs", lambda instance, workers=False: listed_by_another)
        assert sensors.fail_dead_runs(instance) == []  # failed once, alerted once
    (alert,) = [a["body"] for a in webhook]
    assert alert["event"] == "run_failure" and alert["run_id"] == run_id and "is gone" in alert["message"]


def test_a_malformed_webhook_address_never_stops_a_command_line_load(monkeypatch, capsys):
    """Found in review: ``urllib`` raises ValueError for an address without a scheme, and it left
    the command line's later runs and its publish undone."""
    from dagster import DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun

    monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, "hooks.example/no-scheme")
    instance = DagsterInstance.ephemeral()
    instance.add_run(DagsterRun(job_name="load_downloads", run_id="failed", status=DagsterRunStatus.FAILURE))
    alerts.alert_on_command_line_run(instance, "failed")
    assert "alert for run failed not posted" in capsys.readouterr().err


def test_alerts_are_off_without_a_webhook(monkeypatch):
    monkeypatch.delenv(alerts.WEBHOOK_VARIABLE, raising=False)
    assert alerts.alert_sensors() == []


def test_an_embedded_writer_runs_below_the_api_cpu_priority(warehouse_dir):
    """A publish at real size took a core from the API's requests; every thread of a writer's
    process (chDB's pools included) is lowered, and ``writer_nice=0`` leaves them alone.
    Checked in a child process: lowering is one-way for an unprivileged process."""
    script = """
import json, os, sys
from pathlib import Path
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
warehouse = ClickHouseWarehouse(dsn=sys.argv[1], database="pepy", writer_nice=int(sys.argv[2]))
with warehouse.connect() as client:
    client.query("SELECT count() FROM numbers(10000000)")  # the engine's pools start threads
    niceness = {t.name: os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in Path("/proc/self/task").iterdir()}
print(json.dumps(niceness))
"""
    root = Path(__file__).resolve().parents[1]

    def niceness(nice):
        done = subprocess.run([sys.executable, "-c", script, f"chdb://{warehouse_dir / 'warehouse'}", str(nice)],
                              cwd=root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    base = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = niceness(10)
    assert len(lowered) > 3 and min(lowered.values()) >= max(10, base), lowered
    assert sorted(set(niceness(0).values()))[-1] == base


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="the kernel does not group tasks by session")
def test_an_embedded_writer_without_a_terminal_yields_across_sessions(warehouse_dir):
    """Where the kernel shares CPU between sessions first, nice counts only within one: a publisher
    at nice 10 in another session than the API took a third of both cores. A writer without a
    terminal moves into a session of its own and lowers that session's share; with
    ``writer_session`` off it stays where it was started."""
    script = """
import json, os, sys
from pathlib import Path
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
warehouse = ClickHouseWarehouse(dsn=sys.argv[1], database="pepy", writer_session=sys.argv[2] == "on")
with warehouse.connect():
    pass
print(json.dumps({"pid": os.getpid(), "sid": os.getsid(0), "autogroup": Path("/proc/self/autogroup").read_text()}))
"""
    # The writer runs as the child of a session leader without a terminal, as under a service manager.
    wrapper = "import os, subprocess, sys; os.setsid(); sys.exit(subprocess.call(sys.argv[1:]))"
    root = Path(__file__).resolve().parents[1]

    def writer(session: str) -> dict:
        done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-c", script,
                               f"chdb://{warehouse_dir / 'warehouse'}", session],
                              cwd=root, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    # The code location and the CLI take it from PEPY_WRITER_SESSION (on unless set).
    assert build_resources(PipelineSettings(writer_session=True))["warehouse"].writer_session
    assert not build_resources(PipelineSettings(writer_session=False))["warehouse"].writer_session
    moved = writer("on")
    assert moved["sid"] == moved["pid"] and moved["autogroup"].split("nice")[1].strip() == "10", moved
    stayed = writer("off")
    assert stayed["sid"] != stayed["pid"] and stayed["autogroup"].split("nice")[1].strip() == "0", stayed
