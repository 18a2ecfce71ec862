"""docker-compose.yml and the Dagster instance files are valid on paper (no Docker engine here),
and the instance docker-compose's Dagster services load runs a real load on PostgreSQL."""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from check_jsonschema.cli.main_command import main as check_jsonschema
from dagster import AssetRecordsFilter, DagsterInstance, DagsterRunStatus, materialize
from dagster._core.instance.config import dagster_instance_config

from pepy_pipeline.assets.downloads import pypi_downloads
from pepy_pipeline.assets.keys import DOWNLOADS
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from tests.support.postgres import Postgres, postgres_bin, scratch_directory

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_matches_the_compose_specification():
    try:
        check_jsonschema(["--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")])
    except SystemExit as done:
        assert done.code == 0


def test_compose_services_hang_together():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"clickhouse", "postgres", "code-location", "dagster-webserver", "dagster-daemon", "api"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        assert "image" in service or "build" in service
    for name in ("code-location", "dagster-webserver", "dagster-daemon", "api"):
        env = services[name]["environment"]
        assert env["PEPY_CLICKHOUSE_DSN"].startswith("http://") and "@clickhouse:8123" in env["PEPY_CLICKHOUSE_DSN"]
        # Every setting reaches the containers that read it (found by a docs audit: the proxy's
        # address, the BigQuery location, the volume bands could not be set without editing this).
        assert {"path": ".env", "required": False} in services[name]["env_file"], name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
    workspace = yaml.safe_load((ROOT / "deploy/workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    assert grpc["host"] == "code-location" and str(grpc["port"]) in services["code-location"]["command"]


def test_compose_defaults_are_the_codes_defaults(monkeypatch):
    """A setting compose passes with a default of its own (``${PEPY_X:-default}``) gets the code's
    default: found when the day's BigQuery cap was raised in the code and stayed lower in compose."""
    import re

    from pepy_api.settings import ApiSettings
    from pepy_pipeline.settings import PipelineSettings

    for name in [n for n in os.environ if n.upper().startswith("PEPY_")]:
        monkeypatch.delenv(name)
    code = {**ApiSettings().model_dump(), **PipelineSettings().model_dump()}
    compose = (ROOT / "docker-compose.yml").read_text()
    defaults = re.findall(r"\$\{PEPY_(\w+):-([^}]*)\}", compose)
    assert len(defaults) >= 10
    for name, value in defaults:
        field = name.lower()
        parsed = (ApiSettings if field in ApiSettings.model_fields else PipelineSettings)(**{field: value})
        assert getattr(parsed, field) == code[field], (name, value, code[field])


def test_instance_files_are_valid_dagster_configuration(tmp_path):
    for source in ("dagster.yaml", "deploy/dagster.yaml"):
        home = tmp_path / source.replace("/", "_")
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / source).read_text())
        config, _ = dagster_instance_config(str(home))
        assert config["concurrency"]["pools"]["granularity"] == "run"
        # No automatic run retries: a retry copies the dead run's tags (its pid, which the dead-run
        # sensor reads, and the schedule's try counters) and re-reads every day of its range.
        assert not config.get("run_retries", {}).get("enabled", False)
    embedded, _ = dagster_instance_config(str(tmp_path / "dagster.yaml"))
    assert embedded["concurrency"]["pools"]["default_limit"] == 1
    assert "postgres" in yaml.safe_load((ROOT / "deploy/dagster.yaml").read_text())["storage"]


IMPORT_FROM_IMAGE = """
import sys
# The repository's editable install would find any package the image lacks: leave it out.
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, ".")
import pepy_api.main, pepy_pipeline.definitions, pepy_warehouse
print(pepy_api.main.__file__, pepy_pipeline.definitions.__file__, pepy_warehouse.__file__)
"""


def test_the_image_holds_every_package_its_services_import(tmp_path):
    """What the Dockerfile copies, laid out as in the image, imports the API and the code
    location (no Docker engine here: found by a probe, the image once lacked pepy_warehouse)."""
    app = tmp_path / "app"
    app.mkdir()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, target = line.split()[1:]
            for source in sources:
                copied = ROOT / source
                destination = app / (target if len(sources) == 1 and target != "./" else copied.name)
                (shutil.copytree if copied.is_dir() else shutil.copy)(copied, destination)
    done = subprocess.run([sys.executable, "-c", IMPORT_FROM_IMAGE], cwd=app, capture_output=True, text=True,
                          env={**os.environ, "PEPY_HOME": str(tmp_path / "home")}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(path.startswith(str(app)) for path in done.stdout.split()), done.stdout


def test_the_compose_dagster_instance_runs_a_load_on_postgres(tmp_path, dsn, monkeypatch):
    """deploy/dagster.yaml as the webserver, daemon and code location load it, on a real local
    PostgreSQL. Found by a docs audit: the image had no Postgres storage (dagster-postgres was not
    a dependency), so every Dagster service of ``docker compose up`` failed at start."""
    if postgres_bin() is None:
        if os.environ.get("PEPY_REQUIRE_POSTGRES"):
            pytest.fail("PEPY_REQUIRE_POSTGRES is set but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(ROOT / "deploy/dagster.yaml", home / "dagster.yaml")
    day = "2026-10-01"
    scratch = scratch_directory()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
        server = cleanup.enter_context(Postgres(scratch / "pgdata"))
        for name, value in {"HOST": "127.0.0.1", "PORT": str(server.port), "USER": "postgres",
                            "PASSWORD": "trusted", "DB": "postgres"}.items():
            monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", value)
        with DagsterInstance.from_config(str(home)) as instance:
            result = materialize([pypi_downloads], partition_key=day, instance=instance, resources={
                "warehouse": ClickHouseWarehouse(dsn=dsn),
                "source": DownloadSourceResource(name="sample", sample_projects=30, sample_rows_per_day=1000)})
            assert result.success
        with DagsterInstance.from_config(str(home)) as another_service:  # what the webserver reads back
            assert another_service.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
            records = another_service.fetch_materializations(AssetRecordsFilter(asset_key=DOWNLOADS), limit=5).records
            assert [record.partition_key for record in records] == [day]
