"""docker-compose.yml and the Dagster instance files are valid on paper (no Docker engine here)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from check_jsonschema.cli.main_command import main as check_jsonschema
from dagster._core.instance.config import dagster_instance_config

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
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
    workspace = yaml.safe_load((ROOT / "deploy/workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    assert grpc["host"] == "code-location" and str(grpc["port"]) in services["code-location"]["command"]


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
