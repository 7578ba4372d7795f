"""Deployments: local, branch and production storage on a local root and on a real S3 server."""

import os

import dagster as dg
import nbformat
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from catalog_assets.errors import StorageError
from catalog_assets.orchestration.io_manager import CatalogIOManager
from catalog_assets.orchestration.resources import CatalogStorage
from tests.helpers import (
    ENTRIES,
    digests,
    load_defs,
    materializations,
    materialize,
    run_like_jupyter,
    stored_keys,
)

FRAME = pd.DataFrame({"member_id": np.arange(5000), "score": np.linspace(0, 1, 5000)})
BRANCH = "feature/Churn v2"
BRANCH_AREA = "branches/feature-churn-v2"


def backend_env(request, backend: str) -> dict[str, str]:
    return request.getfixturevalue("s3_catalog_env" if backend == "s3" else "catalog_env")


BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


def use_deployment(monkeypatch, deployment: str) -> None:
    monkeypatch.delenv("CATALOG_BRANCH", raising=False)
    monkeypatch.setenv("CATALOG_DEPLOYMENT", deployment)
    if deployment == "branch":
        monkeypatch.setenv("CATALOG_BRANCH", BRANCH)


def products(area: str) -> set[str]:
    """The committed products of an area (staging and executed-notebook folders left out)."""
    return {k.split("/")[-1] for k in stored_keys(f"{area}/") if "/." not in k}


@pytest.mark.s3
def test_s3_round_trip_metadata_atomicity_and_isolation(s3_bucket, s3_client, s3_endpoint):
    url = f"s3://{s3_bucket}/root"
    storage = CatalogStorage(storage_url=url, s3_endpoint_url=s3_endpoint)
    model = LogisticRegression().fit(FRAME, FRAME["score"] > 0.5)

    @dg.asset
    def visits() -> pd.DataFrame:
        return FRAME

    @dg.asset
    def churn_model() -> LogisticRegression:
        return model

    @dg.asset
    def doubled(visits: pd.DataFrame) -> pd.DataFrame:
        return visits * 2

    result = dg.materialize(
        [visits, churn_model, doubled], resources={"io_manager": CatalogIOManager(storage=storage)}
    )
    assert result.success
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert keys == {
        "root/local/visits.parquet",
        "root/local/churn_model.skops",
        "root/local/doubled.parquet",
    }
    metadata = result.asset_materializations_for_node("visits")[0].metadata
    assert metadata["path"].value == f"{url}/local/visits.parquet"
    assert metadata["dagster/row_count"].value == 5000
    store = storage.get_store()
    pd.testing.assert_frame_equal(store.read("local/doubled.parquet", "parquet"), FRAME * 2)
    loaded = store.read("local/churn_model.skops", "skops")
    np.testing.assert_array_equal(loaded.predict(FRAME), model.predict(FRAME))

    # A failed write leaves the previous object, byte for byte, and no stray object.
    before = s3_client.head_object(Bucket=s3_bucket, Key="root/local/visits.parquet")["ETag"]
    with pytest.raises(Exception, match="object"):
        store.write("local/visits.parquet", pd.DataFrame({"a": [object()]}), "parquet")
    after = s3_client.head_object(Bucket=s3_bucket, Key="root/local/visits.parquet")["ETag"]
    assert before == after
    assert len(s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]) == 3

    # A staged product is committed by a server-side copy; large ones go up in parts.
    big = pd.DataFrame({"noise": np.random.default_rng(1).random(3_000_000)})
    staging = store.staging_key("big", "run1", "parquet")
    store.write(staging, big, "parquet")
    assert "-" in s3_client.head_object(Bucket=s3_bucket, Key=f"root/{staging}")["ETag"]
    store.commit(staging, "big", "parquet")
    assert store.locate("big").key == "local/big.parquet"
    assert not store.backend.list("local/.staging/")
    assert len(store.read("local/big.parquet", "parquet")) == 3_000_000

    branch = CatalogStorage(
        storage_url=url, deployment="branch", branch=BRANCH, s3_endpoint_url=s3_endpoint
    ).get_store()
    with pytest.raises(StorageError, match=f"writes only under {BRANCH_AREA}/"):
        branch.write("local/visits.parquet", FRAME, "parquet")
    with pytest.raises(StorageError):
        branch.commit(
            branch.staging_key("x", "r", "parquet").replace(BRANCH_AREA, "prod"), "x", "parquet"
        )


@pytest.mark.notebook
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("deployment", ["local", "prod", "branch"])
def test_sample_catalog_materializes_in_each_deployment(request, monkeypatch, backend, deployment):
    backend_env(request, backend)
    use_deployment(monkeypatch, deployment)
    area = {"local": "local", "prod": "prod", "branch": BRANCH_AREA}[deployment]

    result = materialize(*ENTRIES)
    assert result.success
    assert products(area) == {
        "member_visit_features.parquet",
        "genre_affinity.parquet",
        "churn_model.skops",
        "churn_scores.parquet",
    }
    for other in {"local", "prod", "branches"} - {area.split("/")[0]}:
        assert not stored_keys(f"{other}/")
    scores = materializations(dg.DagsterInstance.get(), "churn_scores")[0].metadata
    assert scores["deployment"].value == ("branch " + BRANCH if deployment == "branch" else area)
    if backend == "s3":
        assert scores["path"].value.startswith(f"{os.environ['CATALOG_STORAGE_URL']}/{area}/")
        executed = scores["executed_notebook_uri"].value
        assert executed.startswith(f"{os.environ['CATALOG_STORAGE_URL']}/{area}/.executed/")


@pytest.mark.notebook
@pytest.mark.parametrize("backend", BACKENDS)
def test_branch_reads_unchanged_inputs_from_production_and_never_touches_it(
    request, monkeypatch, catalog_dir, backend
):
    backend_env(request, backend)
    use_deployment(monkeypatch, "prod")
    assert materialize(*ENTRIES).success
    production = digests("prod/")
    assert len(production) >= 4

    # The scientist's branch changes the model and materializes it and its downstream only.
    use_deployment(monkeypatch, "branch")
    notebook = catalog_dir / "churn" / "churn_model.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "learning_rate=0.05" in c.source)
    cell.source = cell.source.replace("learning_rate=0.05", "learning_rate=0.1")
    nbformat.write(nb, notebook)
    result = materialize("churn_model", "churn_scores")
    assert result.success

    assert products(BRANCH_AREA) == {"churn_model.skops", "churn_scores.parquet"}
    assert digests("prod/") == production  # not a byte changed, nothing added

    instance = dg.DagsterInstance.get()
    model_inputs = materializations(instance, "churn_model")[0].metadata["inputs"].value
    assert model_inputs["member_visit_features"]["deployment"] == "prod"
    score_inputs = materializations(instance, "churn_scores")[0].metadata["inputs"].value
    assert score_inputs["churn_model"]["deployment"] == BRANCH_AREA
    assert score_inputs["genre_affinity"]["deployment"] == "prod"
    assert score_inputs["member_visit_features"]["deployment"] == "prod"
    log = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any(m.startswith("input genre_affinity: prod copy at ") for m in log)
    assert any(m.startswith(f"input churn_model: {BRANCH_AREA} copy at ") for m in log)

    # Every write path of the branch's storage refuses production.
    branch_store = load_branch_store()
    with pytest.raises(StorageError):
        branch_store.write("prod/churn_model.skops", FRAME, "pickle")
    with pytest.raises(StorageError):
        branch_store.discard("prod/churn_scores.parquet")
    with pytest.raises(StorageError):
        branch_store.keep_file(notebook, "prod/.executed/x.ipynb")
    assert digests("prod/") == production


def load_branch_store():
    return load_defs().resources["catalog_storage"].get_store()


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


@pytest.mark.s3
def test_local_and_s3_backends_list_alike(tmp_path, s3_bucket, s3_endpoint):
    from catalog_assets.storage.backends import open_backend

    keys = [
        "prod/a.parquet",
        "prod/ab.parquet",
        "prod/.staging/a.r1.parquet",
        "prod/b/c.pkl",
        "local/a.parquet",
        "sources/movio/a.parquet",
    ]
    backends = [
        open_backend(str(tmp_path)),
        open_backend(f"s3://{s3_bucket}/x", {"endpoint_url": s3_endpoint}),
    ]
    for backend in backends:
        for key in keys:
            with backend.writing(key) as path:
                path.write_bytes(key.encode())
    for prefix in ["prod/", "prod/a.", "prod/a", "prod/.staging/", "p", "", "sources/movio/a."]:
        local, s3 = (backend.list(prefix) for backend in backends)
        assert local == s3 == sorted(k for k in keys if k.startswith(prefix)), prefix
