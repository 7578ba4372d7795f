"""Deployments: local, branch and production on a local root and on a real S3 server."""

import os
import subprocess

import dagster as dg
import nbformat
import numpy as np
import pandas as pd
import pytest

from catalog_assets.errors import DeploymentError, StorageError
from catalog_assets.orchestration.io_manager import CatalogIOManager
from catalog_assets.orchestration.resources import CatalogStorage
from catalog_assets.settings import branch_slug
from catalog_assets.storage import formats
from catalog_assets.storage.backends import open_backend
from tests.helpers import (
    ENTRIES,
    digests,
    load_defs,
    materializations,
    materialize,
    run_like_jupyter,
    stored_keys,
)

BRANCH = "feature/Churn v2"
BRANCH_AREA = f"branches/{branch_slug(BRANCH)}"
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


def backend_env(request, backend: str) -> dict[str, str]:
    return request.getfixturevalue("s3_catalog_env" if backend == "s3" else "catalog_env")


def use_deployment(monkeypatch, deployment: str) -> None:
    monkeypatch.delenv("CATALOG_BRANCH", raising=False)
    monkeypatch.setenv("CATALOG_DEPLOYMENT", deployment)
    if deployment == "branch":
        monkeypatch.setenv("CATALOG_BRANCH", BRANCH)


def refs(area: str) -> set[str]:
    """The entries an area holds a ref for."""
    return {
        k.removeprefix(f"{area}/refs/").removesuffix(".json") for k in stored_keys(f"{area}/refs/")
    }


def store():
    return load_defs().resources["catalog_storage"].get_store()


@pytest.mark.s3
def test_s3_products_are_objects_uploaded_once_in_parts_when_large(
    s3_bucket, s3_client, s3_endpoint
):
    url = f"s3://{s3_bucket}/root"
    # Above this size an object goes up in parts (256 MB by default; smaller here to test it).
    storage = CatalogStorage(
        storage_url=url, s3_endpoint_url=s3_endpoint, s3_single_put_bytes=8 * 2**20
    )
    big = pd.DataFrame({"noise": np.random.default_rng(1).random(3_000_000)})

    @dg.asset
    def noise() -> pd.DataFrame:
        return big

    result = dg.materialize([noise], resources={"io_manager": CatalogIOManager(storage=storage)})
    assert result.success
    metadata = result.asset_materializations_for_node("noise")[0].metadata
    sha256 = metadata["catalog/version"].value
    key = f"root/local/objects/noise/{sha256}.parquet"
    assert metadata["path"].value == f"s3://{s3_bucket}/{key}"
    assert "-" in s3_client.head_object(Bucket=s3_bucket, Key=key)["ETag"]  # multipart
    assert not s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    listed = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert {k for k in listed if "/history/" not in k} == {key, "root/local/refs/noise.json"}
    loaded = storage.get_store().load(
        storage.get_store().resolve("noise").ref, formats.LoadPolicy()
    )
    assert len(loaded) == 3_000_000


@pytest.mark.notebook
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("deployment", ["local", "prod", "branch"])
def test_sample_catalog_materializes_in_each_deployment(request, monkeypatch, backend, deployment):
    backend_env(request, backend)
    use_deployment(monkeypatch, deployment)
    area = {"local": "local", "prod": "prod", "branch": BRANCH_AREA}[deployment]

    result = materialize(*ENTRIES)
    assert result.success
    assert refs(area) == set(ENTRIES)
    for other in {"local", "prod", "branches"} - {area.split("/")[0]}:
        assert not stored_keys(f"{other}/")
    instance = dg.DagsterInstance.get()
    run = instance.get_run_by_id(result.run_id)
    assert run.tags["catalog/deployment"] == deployment
    assert run.tags["catalog/area"] == area
    assert run.tags["catalog/branch"] == (BRANCH if deployment == "branch" else "")
    scores = materializations(instance, "churn_scores")[0]
    assert scores.metadata["deployment"].value == (
        "branch " + BRANCH if deployment == "branch" else area
    )
    # The materialization's data version is the content version of the stored object.
    assert scores.tags["dagster/data_version"] == scores.metadata["catalog/version"].value
    if backend == "s3":
        root = os.environ["CATALOG_STORAGE_URL"]
        assert scores.metadata["path"].value.startswith(f"{root}/{area}/objects/churn_scores/")
        executed = scores.metadata["executed_notebook_uri"].value
        assert executed.startswith(f"{root}/{area}/executed/")


@pytest.mark.notebook
@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_records_the_production_versions_it_read_which_survive_a_refresh(
    request, monkeypatch, catalog_dir, storage_root, backend
):
    backend_env(request, backend)
    use_deployment(monkeypatch, "prod")
    assert materialize(*ENTRIES).success
    production = digests("prod/")
    prod_features = store().read_ref("member_visit_features")[0]

    # The scientist's branch changes the model and materializes it and its downstream only.
    use_deployment(monkeypatch, "branch")
    notebook = catalog_dir / "churn" / "churn_model.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "learning_rate=0.05" in c.source)
    cell.source = cell.source.replace("learning_rate=0.05", "learning_rate=0.1")
    nbformat.write(nb, notebook)
    result = materialize("churn_model", "churn_scores")
    assert result.success
    assert refs(BRANCH_AREA) == {"churn_model", "churn_scores"}
    assert digests("prod/") == production  # not a byte changed, nothing added

    branch_store = store()
    model = branch_store.read_ref("churn_model")[0]
    read = model.inputs["member_visit_features"]
    assert (read.area, read.version) == ("prod", prod_features.sha256)
    scores = branch_store.read_ref("churn_scores")[0]
    assert scores.inputs["churn_model"].area == BRANCH_AREA
    assert scores.inputs["genre_affinity"].area == "prod"
    log = [e.message for e in dg.DagsterInstance.get().all_logs(result.run_id) if e.message]
    assert any(m.startswith("input genre_affinity: prod version ") for m in log)
    assert any(m.startswith(f"input churn_model: {BRANCH_AREA} version ") for m in log)

    # Production refreshes member_visit_features from a changed source: a new version...
    use_deployment(monkeypatch, "prod")
    members = store().backend
    with members.reading("sources/movio/members.parquet") as path:
        frame = pd.read_parquet(path)
    changed = storage_root.parent / "members.parquet"
    frame.assign(joined_date=frame["joined_date"] - pd.Timedelta(days=1)).to_parquet(changed)
    members.put_file(changed, "sources/movio/members.parquet")
    assert materialize("member_visit_features").success
    assert store().read_ref("member_visit_features")[0].sha256 != prod_features.sha256
    # ... and the version the branch read still exists and loads, verified.
    use_deployment(monkeypatch, "branch")
    kept = store().read_object(read.key, read.version, "parquet", formats.LoadPolicy())
    assert len(kept) == prod_features.facts["row_count"]


@pytest.mark.notebook
def test_jupyter_in_a_branch_reads_production_until_the_branch_has_its_own(
    catalog_env, catalog_dir, monkeypatch
):
    use_deployment(monkeypatch, "prod")
    assert materialize("member_visit_features").success
    use_deployment(monkeypatch, "branch")
    path = catalog_dir / "churn" / "churn_model.ipynb"
    nb = run_like_jupyter(path)
    assert "roc_auc" in nb.cells[-2].outputs[0]["data"]["text/plain"]
    assert not stored_keys(f"{BRANCH_AREA}/")  # reading never copies production's data


def test_a_deployment_refuses_another_deployments_dagster_instance(
    catalog_env, monkeypatch, tmp_path
):
    from catalog_assets.instance import prepare_instance
    from catalog_assets.settings import Settings

    use_deployment(monkeypatch, "branch")
    branch_home = prepare_instance(Settings.from_env())
    assert branch_home == tmp_path / ".catalog" / "dagster" / BRANCH_AREA
    assert (branch_home / "dagster.yaml").exists()
    use_deployment(monkeypatch, "prod")
    monkeypatch.setenv("DAGSTER_HOME", str(branch_home))
    with pytest.raises(DeploymentError, match="is the Dagster instance of the branches/"):
        load_defs()
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_instance(Settings.from_env())))
    assert load_defs() is not None


def test_production_refuses_a_checkout_of_another_branch(catalog_env, catalog_dir, monkeypatch):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(catalog_dir), *args], check=True, capture_output=True)

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(catalog_dir.parent))
    git("init", "-q", "-b", "main")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    git("checkout", "-q", "-b", "feature/bands")
    use_deployment(monkeypatch, "prod")
    with pytest.raises(DeploymentError, match="checkout of 'feature/bands'; check out main"):
        load_defs()
    use_deployment(monkeypatch, "local")  # any other deployment runs the branch it is on
    assert load_defs() is not None
    use_deployment(monkeypatch, "prod")
    git("checkout", "-q", "--detach")  # how CI checks out a merge commit
    assert load_defs() is not None
    git("checkout", "-q", "main")
    assert load_defs() is not None


@pytest.mark.s3
def test_local_and_s3_backends_list_alike(tmp_path, s3_bucket, s3_endpoint):
    keys = [
        "prod/a.json",
        "prod/ab.json",
        "prod/b/c.json",
        "local/a.json",
        "sources/movio/a.parquet",
    ]
    backends = [
        open_backend(str(tmp_path)),
        open_backend(f"s3://{s3_bucket}/x", {"endpoint_url": s3_endpoint}),
    ]
    for backend in backends:
        for key in keys:
            backend.put_bytes(key, key.encode())
        with pytest.raises(StorageError, match="already exists|refused"):
            backend.put_bytes(keys[0], b"other", if_absent=True)
    for prefix in ["prod/", "prod/a.", "prod/a", "p", "", "sources/movio/a."]:
        local, s3 = ([i.key for i in backend.list(prefix)] for backend in backends)
        assert local == s3 == sorted(k for k in keys if k.startswith(prefix)), prefix
