"""deploy/dagster.yaml against a real PostgreSQL and the S3 API server on loopback.

Nothing is launched on ECS: the real EcsRunLauncher is built from the file (against the loopback
server's ECS API) to prove its configuration, then, for the materialization, the file's run
launcher is swapped for Dagster's default one. Storage, event log, schedules and compute logs are
exactly the production file's.
"""

import os
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from tests.helpers import ENTRIES, ROOT, materialize_with_cli, stored_keys

pytestmark = [pytest.mark.postgres, pytest.mark.s3]
DEPLOY = ROOT / "deploy" / "dagster.yaml"


@pytest.fixture
def production_env(s3_catalog_env, s3_endpoint, s3_bucket, postgres_db, monkeypatch):
    # Production reaches S3 through the standard variable, not our explicit setting.
    monkeypatch.delenv("CATALOG_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    ecs = boto3.client("ecs", endpoint_url=s3_endpoint)
    ecs.create_cluster(clusterName="catalog")
    task = ecs.register_task_definition(
        family="catalog-run",
        containerDefinitions=[{"name": "run", "image": "catalog-assets:latest", "memory": 2048}],
    )["taskDefinition"]["taskDefinitionArn"]
    env = {
        "DAGSTER_PG_HOST": postgres_db["host"],
        "DAGSTER_PG_PORT": postgres_db["port"],
        "DAGSTER_PG_USERNAME": postgres_db["user"],
        "DAGSTER_PG_PASSWORD": postgres_db["password"],
        "DAGSTER_PG_DB": postgres_db["db"],
        "DAGSTER_COMPUTE_LOG_BUCKET": s3_bucket,
        "DAGSTER_COMPUTE_LOG_PREFIX": "compute-logs",
        "DAGSTER_ECS_TASK_DEFINITION": task,
        "DAGSTER_ECS_CONTAINER_NAME": "run",
        "DAGSTER_ECS_CLUSTER": "catalog",
        "DAGSTER_MAX_CONCURRENT_RUNS": "4",
        "CATALOG_DEPLOYMENT": "prod",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def home_with(config: dict, path: Path) -> Path:
    path.mkdir()
    (path / "dagster.yaml").write_text(yaml.safe_dump(config))
    return path


def test_production_file_builds_every_piece(production_env, tmp_path):
    instance = dg.DagsterInstance.from_config(
        str(home_with(yaml.safe_load(DEPLOY.read_text()), tmp_path / "home"))
    )
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        launcher = instance.run_launcher  # really built: describes the task definition on ECS
        assert isinstance(launcher, EcsRunLauncher)
        assert launcher.task_definition == production_env["DAGSTER_ECS_TASK_DEFINITION"]
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().max_concurrent_runs == 4
        assert instance.get_runs() == []
    finally:
        instance.dispose()


def test_sample_catalog_materializes_on_the_production_storage(
    production_env, tmp_path, s3_client, s3_bucket
):
    config = yaml.safe_load(DEPLOY.read_text())
    # The only change from the production file: launch nothing on ECS.
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    home = home_with(config, tmp_path / "home")
    result = materialize_with_cli({**os.environ, "DAGSTER_HOME": str(home)})
    assert result.returncode == 0, result.stderr[-3000:]

    refs = {k.split("/")[-1].removesuffix(".json") for k in stored_keys("prod/refs/")}
    assert refs == set(ENTRIES)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        for name in ENTRIES:
            assert instance.get_latest_materialization_event(dg.AssetKey(name)) is not None
    finally:
        instance.dispose()
    logs = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="compute-logs/")
    uploaded = [o["Key"] for o in logs.get("Contents", [])]
    assert any(runs[0].run_id in key for key in uploaded), uploaded
