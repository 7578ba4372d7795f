"""Shared fixtures: a copy of the sample catalog, isolated storage and Dagster homes."""

import shutil
from pathlib import Path

import pytest

from catalog_assets.sample_data import SampleConfig, write_sources

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = ROOT / "notebooks"
# Smaller than the default sample, same patterns: keeps the notebook tier fast.
TEST_SAMPLE = SampleConfig(members=2500)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A private copy of the sample catalog that a test may edit."""
    target = tmp_path / "notebooks"
    shutil.copytree(SAMPLE_CATALOG, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


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
