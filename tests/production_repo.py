"""A temporary git repository holding the sample catalog, materialized in production once:
the fixtures previews and the production refresh are tested on."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from catalog_assets.sample_data import write_sources
from tests.conftest import TEST_SAMPLE
from tests.helpers import copy_sample_catalog

GIT = ["-c", "user.name=Scientist", "-c", "user.email=scientist@example.com"]
_ENV = (
    "CATALOG_DEPLOYMENT",
    "CATALOG_BRANCH",
    "CATALOG_STORAGE_URL",
    "DAGSTER_HOME",
    "CATALOG_PREVIEW_REPORT",
    "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT",
    "DAGSTER_CLOUD_DEPLOYMENT_NAME",
    "DAGSTER_CLOUD_GIT_BRANCH",
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *GIT, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def production_repo(tmp_path_factory) -> Iterator[Path]:
    """A git repository (main) of the sample catalog, its sources written and every entry
    materialized in production, as `CATALOG_DEPLOYMENT=prod` on this machine would."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q", "-b", "main")
    copy_sample_catalog(repo / "notebooks")
    (repo / ".gitignore").write_text(".catalog/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "The sample catalog")
    write_sources(str(repo / ".catalog" / "storage"), TEST_SAMPLE)
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    env.update(
        CATALOG_HOME=str(repo), CATALOG_DIR=str(repo / "notebooks"), CATALOG_DEPLOYMENT="prod"
    )
    home = subprocess.run(
        [sys.executable, "-m", "catalog_assets.cli", "instance"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "catalog_assets.definitions",
            "--select",
            "*",
        ],
        env={**env, "DAGSTER_HOME": home},
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield repo


@pytest.fixture
def repo(production_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository, with this test's environment pointing at it (the local deployment)."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CATALOG_HOME", str(production_repo))
    monkeypatch.setenv("CATALOG_DIR", str(production_repo / "notebooks"))
    git(production_repo, "checkout", "-q", "main")
    return production_repo


def branch_instance(repo: Path, branch: str) -> dg.DagsterInstance:
    from catalog_assets.settings import branch_slug

    return dg.DagsterInstance.from_config(
        str(repo / ".catalog" / "dagster" / "branches" / branch_slug(branch))
    )


def materialization_counts(instance: dg.DagsterInstance, names) -> dict[str, int]:
    return {
        name: len(instance.fetch_materializations(dg.AssetKey(name), limit=100).records)
        for name in names
    }
