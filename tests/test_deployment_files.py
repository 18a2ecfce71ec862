"""docker-compose.yml and the Dagster instance files are valid on paper (no Docker engine here)."""

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
