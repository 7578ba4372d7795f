"""Shared fixtures: a copy of the sample catalog, isolated storage and Dagster homes."""

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from catalog_assets.sample_data import SampleConfig, write_sources
from tests.helpers import ROOT, copy_sample_catalog, moto_server

SAMPLE_CATALOG = ROOT / "notebooks"
# Smaller than the default sample, same patterns: keeps the notebook tier fast.
TEST_SAMPLE = SampleConfig(members=2500)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A private copy of the sample catalog that a test may edit, without its data-usage terms
    (tests of data usage and tenants take ``governed_catalog_dir``)."""
    return copy_sample_catalog(tmp_path / "notebooks")


@pytest.fixture
def governed_catalog_dir(tmp_path: Path) -> Path:
    """A private copy of the sample catalog as shipped: terms, tenants, per-tenant entries."""
    return copy_sample_catalog(tmp_path / "governed", terms=True)


@pytest.fixture(scope="session")
def sample_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample sources generated once per session; tests copy them into their own storage."""
    storage = tmp_path_factory.mktemp("sample-sources")
    write_sources(str(storage), TEST_SAMPLE)
    return storage / "sources"


@pytest.fixture
def storage_root(tmp_path: Path, sample_sources: Path) -> Path:
    root = tmp_path / "storage"
    shutil.copytree(sample_sources, root / "sources")
    return root


@pytest.fixture
def catalog_env(
    tmp_path: Path, catalog_dir: Path, storage_root: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment of an isolated local deployment: its own catalog, storage and DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        "CATALOG_DIR": str(catalog_dir),
        "CATALOG_STORAGE_URL": str(storage_root),
        "CATALOG_HOME": str(tmp_path),
        "DAGSTER_HOME": str(home),
    }
    for name in (
        "CATALOG_DEPLOYMENT",
        "CATALOG_BRANCH",
        "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT",
        "DAGSTER_CLOUD_DEPLOYMENT_NAME",
        "DAGSTER_CLOUD_GIT_BRANCH",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server (moto_server) on a free loopback port, for the whole session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; credentials and endpoint in the environment, as kernels inherit them."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CATALOG_S3_ENDPOINT_URL", s3_endpoint)
    bucket = f"catalog-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_client(s3_endpoint: str, s3_bucket: str):
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def s3_catalog_env(
    catalog_env: dict[str, str],
    s3_bucket: str,
    s3_client,
    sample_sources: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The isolated deployment of ``catalog_env``, with storage on the S3 server instead."""
    for path in sample_sources.rglob("*.parquet"):
        key = f"catalog/sources/{path.relative_to(sample_sources).as_posix()}"
        s3_client.upload_file(str(path), s3_bucket, key)
    url = f"s3://{s3_bucket}/catalog"
    monkeypatch.setenv("CATALOG_STORAGE_URL", url)
    return {**catalog_env, "CATALOG_STORAGE_URL": url}


def object_digests(client, bucket: str, prefix: str) -> dict[str, tuple[str, str]]:
    """Every object under ``prefix``: its SHA-256 and last-modified time."""
    digests = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            digests[item["Key"]] = (hashlib.sha256(body).hexdigest(), str(item["LastModified"]))
    return digests


@pytest.fixture
def postgres_db() -> Iterator[dict[str, str]]:
    """A fresh database on a real PostgreSQL server (.ci/postgres.sh provides one).

    Outside CI, a missing server skips the test with the reason; in CI (CI=true) it fails.
    """
    import psycopg2

    server = {
        "host": os.environ.get("CATALOG_TEST_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("CATALOG_TEST_PG_PORT", "5432"),
        "user": os.environ.get("CATALOG_TEST_PG_USER", "catalog"),
        "password": os.environ.get("CATALOG_TEST_PG_PASSWORD", "catalog"),
    }
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **server)
    except psycopg2.OperationalError as error:
        reason = (
            f"no PostgreSQL at {server['host']}:{server['port']} ({error}); run .ci/postgres.sh"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    admin.autocommit = True
    name = f"dagster_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield {**server, "db": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
