"""The IO manager: storing is committing a ref; loading reads refs and verifies bytes."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from catalog_assets.orchestration.io_manager import CatalogIOManager
from catalog_assets.orchestration.resources import CatalogStorage

FRAME = pd.DataFrame(
    {
        "member_id": np.arange(1000),
        "chain": ["roxy", "harbour"] * 500,
        "score": np.linspace(0, 1, 1000),
    }
)


def materialize(root, *assets, deployment="local", branch=None, **io_options):
    storage = CatalogStorage(storage_url=str(root), deployment=deployment, branch=branch)
    return dg.materialize(
        list(assets),
        resources={"io_manager": CatalogIOManager(storage=storage, **io_options)},
        raise_on_error=False,
    )


def test_frame_round_trip_through_refs_with_metadata(tmp_path):
    @dg.asset
    def visits() -> pd.DataFrame:
        return FRAME

    @dg.asset
    def doubled(visits: pd.DataFrame) -> pd.DataFrame:
        return visits.assign(score=visits["score"] * 2)

    result = materialize(tmp_path, visits, doubled)
    assert result.success
    metadata = result.asset_materializations_for_node("visits")[0].metadata
    sha256 = metadata["catalog/version"].value
    stored = tmp_path / "local" / "objects" / "visits" / f"{sha256}.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(stored), FRAME)
    assert (tmp_path / "local" / "refs" / "visits.json").exists()
    assert not list((tmp_path / "local").glob("*.parquet"))  # no mutable files in the area

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
    doubled_path = result.asset_materializations_for_node("doubled")[0].metadata["path"].value
    assert pd.read_parquet(doubled_path)["score"].max() == 2.0


def test_model_is_stored_as_skops_and_predicts_the_same(tmp_path):
    X = FRAME[["member_id", "score"]]
    y = FRAME["score"] > 0.5
    model = LogisticRegression().fit(X, y)

    @dg.asset
    def churn_model() -> LogisticRegression:
        return model

    @dg.asset
    def predictions(churn_model) -> pd.DataFrame:
        return pd.DataFrame({"p": churn_model.predict_proba(X)[:, 1]})

    result = materialize(tmp_path, churn_model, predictions)
    assert result.success
    metadata = result.asset_materializations_for_node("churn_model")[0].metadata
    assert metadata["storage_format"].value == "skops"
    stored = result.asset_materializations_for_node("predictions")[0].metadata["path"].value
    np.testing.assert_array_equal(pd.read_parquet(stored)["p"], model.predict_proba(X)[:, 1])


def test_values_without_a_safe_format_are_refused_unless_declared_pickle(tmp_path):
    @dg.asset
    def members_set() -> set:
        return {1, 2, 3}

    result = materialize(tmp_path, members_set)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "declare format: pickle" in failure.step_failure_data.error.message

    @dg.asset
    def reader(members_set: set) -> list:
        return sorted(members_set)

    result = materialize(tmp_path, members_set, reader, pickle_assets=["members_set"])
    assert result.success
    metadata = result.asset_materializations_for_node("members_set")[0].metadata
    assert metadata["catalog/value_type"].value == "builtins.set"


def test_json_values_are_stored_as_json(tmp_path):
    @dg.asset
    def thresholds() -> dict:
        return {"high": 0.6, "low": 0.3}

    result = materialize(tmp_path, thresholds)
    assert result.success
    path = result.asset_materializations_for_node("thresholds")[0].metadata["path"].value
    assert path.endswith(".json")


def test_missing_inputs_say_what_to_do(tmp_path):
    upstream = dg.AssetSpec("upstream")

    @dg.asset(deps=[])
    def user(upstream) -> int:
        return 1

    result = dg.materialize(
        [user, upstream],
        resources={
            "io_manager": CatalogIOManager(storage=CatalogStorage(storage_url=str(tmp_path)))
        },
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "input 'upstream' has never been materialized in local" in (
        failure.step_failure_data.error.message
    )


@pytest.mark.parametrize("branch", ["feature/x"])
def test_a_branch_stores_in_its_area_and_reads_production_otherwise(tmp_path, branch):
    @dg.asset
    def base() -> pd.DataFrame:
        return FRAME

    @dg.asset
    def top(base: pd.DataFrame) -> pd.DataFrame:
        return base.head(7)

    assert materialize(tmp_path, base, top, deployment="prod").success
    result = dg.materialize(
        [top, base.to_source_asset()],
        selection=["top"],
        resources={
            "io_manager": CatalogIOManager(
                storage=CatalogStorage(
                    storage_url=str(tmp_path), deployment="branch", branch=branch
                )
            )
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("top")[0].metadata
    area = metadata["catalog/area"].value
    assert area.startswith("branches/feature-x-")
    assert (tmp_path / area / "refs" / "top.json").exists()
    assert not (tmp_path / area / "refs" / "base.json").exists()
