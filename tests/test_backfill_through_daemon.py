"""A multi-day backfill launched through a running dagster-webserver (GraphQL) and executed by
the daemon, on the embedded warehouse, while the API serves over real HTTP.

Proves: the shipped dagster.yaml serialises warehouse runs (zero lock errors), every day loads,
and the API keeps answering with zero failed requests and picks up the new days without a restart.
"""

import datetime as dt
import threading
import time

import httpx
import pytest

from pepy_warehouse.connection import connected
from tests.conftest import DATABASE, copy_instance_config
from tests.support.processes import ROOT, VENV_BIN, free_port, run_cli, start, start_api, stop, wait_http

pytestmark = pytest.mark.slow

INITIAL = ("2026-10-01", "2026-10-03")
BACKFILL = [(dt.date(2026, 10, 4) + dt.timedelta(days=i)).isoformat() for i in range(6)]

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey }
    ... on UnauthorizedError { message }
  }
}"""
STATUS = """
query Status($id: String!, $tag: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $tag}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""
LOCK_ERRORS = ("Cannot lock file", "Error initializing EmbeddedServer", "TOO_MANY_SIMULTANEOUS")


def graphql(url: str, query: str, variables: dict) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


class Hammer(threading.Thread):
    """Requests a mix of API endpoints until stopped, counting failures (anything not 200)."""

    PATHS = ("/api/v2/projects/requests", "/badge/boto3", "/api/packages/urllib3/overall",
             "/v1/projects/numpy/downloads?by=installer", "/api/packages/__all__/recent")

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stopping = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.days_seen: set[str] = set()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as http:
            index = 0
            while not self.stopping.is_set():
                path = self.PATHS[index % len(self.PATHS)]
                index += 1
                try:
                    response = http.get(path)
                except httpx.HTTPError as error:
                    self.failures.append(f"{path}: {error!r}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                else:
                    self.ok += 1
                    self.days_seen.add(response.headers["x-data-last-complete-day"])
                time.sleep(0.02)


def test_daemon_backfill_serialised_on_embedded_warehouse_while_api_serves(tmp_path, dagster_yaml):
    home, dagster_home = tmp_path / "home", copy_instance_config(tmp_path / "dagster_home", dagster_yaml)
    env = {"PEPY_HOME": str(home), "DAGSTER_HOME": str(dagster_home), "PEPY_START_DATE": "2026-09-01",
           "PEPY_SAMPLE_PROJECTS": "80", "PEPY_SAMPLE_ROWS_PER_DAY": "4000", "PEPY_BACKFILL_DAYS_PER_RUN": "2",
           # As deployed: each run's writer moves into a session of its own (tests/conftest.py
           # turns it off for the test process itself).
           "PEPY_WRITER_SESSION": "true"}
    initial = run_cli(["load", *INITIAL], env)
    assert initial.returncode == 0, initial.stderr[-3000:]
    limit = __import__("subprocess").run([str(VENV_BIN / "dagster"), "instance", "concurrency", "set", "warehouse", "1"],
                                        env={**__import__("os").environ, **env}, cwd=ROOT, capture_output=True, text=True)
    assert limit.returncode == 0, limit.stderr

    api, base = start_api(home, tmp_path / "api.log")
    etag_before = httpx.get(f"{base}/api/projects/requests", timeout=10).headers["etag"]
    port = free_port()
    web = start([str(VENV_BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                env, tmp_path / "webserver.log")
    daemon = start([str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, tmp_path / "daemon.log")
    hammer = Hammer(base)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/server_info", web, tmp_path / "webserver.log", timeout=120)
        hammer.start()
        launched = graphql(url, LAUNCH, {"params": {
            "partitionNames": BACKFILL,
            # Only the loads: the publish sensor publishes once when the backfill is over.
            "assetSelection": [{"path": ["pypi_downloads"]}, {"path": ["download_rollups"]}],
        }})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        deadline = time.monotonic() + 420
        status, runs = None, []
        while time.monotonic() < deadline:
            data = graphql(url, STATUS, {"id": backfill_id, "tag": backfill_id})
            status = data["partitionBackfillOrError"]["status"]
            runs = data["runsOrError"]["results"]
            if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                break
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(2)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, runs)
        assert runs and all(run["status"] == "SUCCESS" for run in runs), runs
        assert len(runs) >= 3  # 6 days, 2 per run: batched, not one giant run
        # The sensor's publish run, then the API's attach: generous, as a loaded machine is slow
        # (a run still writing when the test goes on holds the warehouse's lock).
        published_deadline, seen = time.monotonic() + 360, None
        while time.monotonic() < published_deadline:
            seen = httpx.get(f"{base}/api/projects/requests", timeout=10).headers.get("x-data-last-complete-day")
            if seen == BACKFILL[-1]:
                break
            time.sleep(2)
        assert seen == BACKFILL[-1], f"not published within 6 minutes (API serves {seen}): " + \
            (tmp_path / "daemon.log").read_text(errors="replace")[-3000:]
    finally:
        hammer.stopping.set()
        hammer.join(15)
        for process in (daemon, web):
            stop(process)
    try:
        final = httpx.get(f"{base}/api/projects/requests", timeout=10)
    finally:
        stop(api)

    logs = "".join((tmp_path / name).read_text(errors="replace") for name in ("daemon.log", "webserver.log", "api.log"))
    run_logs = "".join(p.read_text(errors="replace") for p in dagster_home.rglob("*.err"))
    assert not [marker for marker in LOCK_ERRORS if marker in logs + run_logs]
    with connected(f"chdb://{home / 'warehouse'}") as client:
        days = {r[0].isoformat() for r in client.query(f"SELECT DISTINCT date FROM {DATABASE}.downloads_daily").result_rows}
    assert set(BACKFILL) <= days

    assert hammer.ok > 50
    assert hammer.failures == []
    assert final.headers["x-data-last-complete-day"] == BACKFILL[-1]
    assert final.headers["etag"] != etag_before  # new data, new ETag
    assert BACKFILL[-1] in final.json()["downloads"]
    # Published once, at the end: the API never served a day in between (Dagster keeps an asset
    # backfill REQUESTED until its runs finish, and the sensor waits for it).
    assert hammer.days_seen == {"2026-10-03", BACKFILL[-1]}
    # The dead-run sensor finds a daemon run's worker before its step records it: the pid the
    # default launcher logs (read from Dagster's code, checked here on real runs).
    from dagster import DagsterInstance

    from pepy_pipeline.sensors import worker_pid
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert all((worker_pid(instance, run["runId"]) or "").isdigit() for run in runs), runs
