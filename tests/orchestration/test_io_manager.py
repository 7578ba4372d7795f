"""The IO manager and the store: formats, metadata, atomic writes, staged commits."""

import os

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from catalog_assets.errors import StorageError
from catalog_assets.orchestration.io_manager import (
    SOURCE_FORMAT,
    SOURCE_LOCATION,
    CatalogIOManager,
    locate_input,
)
from catalog_assets.orchestration.resources import CatalogStorage
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.local import LocalBackend
from catalog_assets.storage.store import CatalogStore, Staged

FRAME = pd.DataFrame(
    {
        "member_id": np.arange(1000),
        "chain": ["roxy", "harbour"] * 500,
        "score": np.linspace(0, 1, 1000),
    }
)


def store_for(root, kind="local", branch=None, slug=None) -> CatalogStore:
    return CatalogStore(LocalBackend(root), Deployment(kind, str(root), branch, slug))


def materialize(root, *assets, deployment="local", branch=None):
    storage = CatalogStorage(storage_url=str(root), deployment=deployment, branch=branch)
    return dg.materialize(list(assets), resources={"io_manager": CatalogIOManager(storage=storage)})


def test_frame_round_trip_with_metadata(tmp_path):
    @dg.asset
    def visits() -> pd.DataFrame:
        return FRAME

    @dg.asset
    def doubled(visits: pd.DataFrame) -> pd.DataFrame:
        return visits.assign(score=visits["score"] * 2)

    result = materialize(tmp_path, visits, doubled)
    assert result.success
    stored = tmp_path / "local" / "visits.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(stored), FRAME)
    assert pd.read_parquet(tmp_path / "local" / "doubled.parquet")["score"].max() == 2.0

    metadata = result.asset_materializations_for_node("visits")[0].metadata
    assert metadata["dagster/row_count"].value == 1000
    assert [c.name for c in metadata["dagster/column_schema"].value.columns] == [
        "member_id",
        "chain",
        "score",
    ]
    assert metadata["path"].value == str(stored)
    assert metadata["size_bytes"].value == stored.stat().st_size
    assert metadata["storage_format"].value == "parquet"
    assert metadata["deployment"].value == "local"


def test_model_is_stored_as_skops_and_predicts_the_same(tmp_path):
    X = FRAME[["member_id", "score"]]
    y = FRAME["score"] > 0.5
    model = LogisticRegression().fit(X, y)

    @dg.asset
    def churn_model() -> LogisticRegression:
        return model

    assert materialize(tmp_path, churn_model).success
    path = tmp_path / "local" / "churn_model.skops"
    assert path.exists() and not (tmp_path / "local" / "churn_model.pkl").exists()
    loaded = store_for(tmp_path).read("local/churn_model.skops", "skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_other_values_are_pickled(tmp_path):
    @dg.asset
    def thresholds() -> dict:
        return {"high": 0.6, "low": 0.3}

    result = materialize(tmp_path, thresholds)
    assert store_for(tmp_path).read("local/thresholds.pkl", "pickle") == {"high": 0.6, "low": 0.3}
    metadata = result.asset_materializations_for_node("thresholds")[0].metadata
    assert metadata["catalog/value_type"].value == "builtins.dict"


def test_failed_write_keeps_previous_version_and_leaves_no_temp_file(tmp_path):
    store = store_for(tmp_path)
    store.write("local/visits.parquet", FRAME, "parquet")
    before = (tmp_path / "local" / "visits.parquet").read_bytes()
    unstorable = pd.DataFrame({"a": [object(), object()]})  # parquet cannot hold arbitrary objects
    with pytest.raises(Exception, match="object"):
        store.write("local/visits.parquet", unstorable, "parquet")
    assert (tmp_path / "local" / "visits.parquet").read_bytes() == before
    assert os.listdir(tmp_path / "local") == ["visits.parquet"]


def test_staged_product_is_committed_by_rename_not_rewritten(tmp_path):
    store = store_for(tmp_path)
    staging = store.staging_key("scores", "run1", "parquet")
    store.write(staging, FRAME, "parquet")
    staged_inode = os.stat(tmp_path / staging).st_ino

    @dg.asset
    def scores():
        return Staged(staging, "parquet")

    result = materialize(tmp_path, scores)
    final = tmp_path / "local" / "scores.parquet"
    assert os.stat(final).st_ino == staged_inode  # the same bytes, renamed into place
    assert not (tmp_path / staging).exists()
    assert result.asset_materializations_for_node("scores")[0].metadata["size_bytes"].value > 0


def test_a_new_format_replaces_the_old_one(tmp_path):
    store = store_for(tmp_path)
    store.write("local/thing.parquet", FRAME, "parquet")
    staging = store.staging_key("thing", "run2", "pickle")
    store.write(staging, {"now": "a dict"}, "pickle")
    store.commit(staging, "thing", "pickle")
    assert sorted(os.listdir(tmp_path / "local")) == [".staging", "thing.pkl"]
    assert store.locate("thing").format == "pickle"


def test_writes_outside_the_deployment_area_are_refused(tmp_path):
    branch = store_for(tmp_path, "branch", "feature/x", "feature-x")
    for key in ("prod/visits.parquet", "sources/movio/members.parquet", "local/visits.parquet"):
        with pytest.raises(StorageError, match="writes only under branches/feature-x/"):
            branch.write(key, FRAME, "parquet")
    assert not (tmp_path / "prod").exists()


def test_branch_reads_its_own_copy_else_production(tmp_path):
    prod = store_for(tmp_path, "prod")
    prod.write("prod/a.parquet", FRAME, "parquet")
    prod.write("prod/b.parquet", FRAME, "parquet")
    branch = store_for(tmp_path, "branch", "x", "x")
    branch.write("branches/x/b.parquet", FRAME.head(3), "parquet")
    assert branch.locate("a").area == "prod"
    assert branch.locate("b").area == "branches/x"
    assert len(branch.read(branch.locate("b").key, "parquet")) == 3
    assert branch.locate("c") is None
    # a name that merely starts like another is not mistaken for it
    prod.write("prod/ab.parquet", FRAME, "parquet")
    assert store_for(tmp_path, "prod").locate("a").key == "prod/a.parquet"


def test_untrusted_model_types_are_refused(tmp_path):
    import skops.io

    from tests.helpers import NotSklearn

    path = tmp_path / "model.skops"
    skops.io.dump({"estimator": LogisticRegression(), "extra": NotSklearn()}, path)
    with pytest.raises(formats.UntrustedModelError, match="NotSklearn"):
        formats.load(path, "skops")


def test_missing_inputs_say_what_to_do(tmp_path):
    store = store_for(tmp_path)
    with pytest.raises(dg.Failure, match="input 'upstream' has never been materialized in local"):
        locate_input(store, dg.AssetKey("upstream"), None)
    source = {SOURCE_LOCATION: "movio/members.parquet", SOURCE_FORMAT: "parquet"}
    with pytest.raises(dg.Failure, match="source 'members' has no data at .*catalog sample-data"):
        locate_input(store, dg.AssetKey("members"), source)
