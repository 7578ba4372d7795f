"""Real notebooks in real Jupyter kernels, in temporary DAGSTER_HOMEs and storage roots."""

import json
import os
import sys
import time
from pathlib import Path

import dagster as dg
import nbformat
import pandas as pd
import pytest

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import code_version
from catalog_assets.orchestration.execution import TEARDOWN_SOURCE
from tests.helpers import (
    ENTRIES,
    materializations,
    materialize,
    materialize_with_cli,
    outputs_text,
    run_like_jupyter,
)

pytestmark = pytest.mark.notebook

FORMATS = {
    "member_visit_features": "parquet",
    "genre_affinity": "parquet",
    "churn_model": "skops",
    "churn_scores": "parquet",
}


def current(storage_root: Path, name: str, area: str = "local") -> dict:
    """The ref of an entry, as stored."""
    path = storage_root / area / "refs" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def product_path(storage_root: Path, name: str, area: str = "local") -> Path:
    return storage_root / current(storage_root, name, area)["object"]


def add_cell(notebook: Path, source: str, before_last: bool = True) -> None:
    nb = nbformat.read(notebook, as_version=4)
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) - 1 if before_last else len(nb.cells), cell)
    nbformat.write(nb, notebook)


def test_whole_sample_catalog_with_the_dagster_cli(
    catalog_env, catalog_dir, storage_root, tmp_path, record_property
):
    started = time.monotonic()
    result = materialize_with_cli()
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    record_property("sample_catalog_seconds", round(elapsed, 1))

    for name, fmt in FORMATS.items():
        ref = current(storage_root, name)
        assert ref["format"] == fmt and product_path(storage_root, name).stat().st_size > 0
    scores = pd.read_parquet(product_path(storage_root, "churn_scores"))
    assert scores["member_id"].is_unique and len(scores) > 100
    assert set(scores["risk_band"]) <= {"low", "medium", "high"}
    assert scores["churn_probability"].between(0, 1).all()
    assert not list((storage_root / ".staging").iterdir())
    # Provenance: churn_scores was computed from the exact versions its inputs hold now.
    inputs = current(storage_root, "churn_scores")["inputs"]
    assert inputs["churn_model"]["version"] == current(storage_root, "churn_model")["sha256"]

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    executed = tmp_path / ".catalog" / "executed" / run.run_id
    assert sorted(p.stem for p in executed.glob("*.ipynb")) == sorted(ENTRIES)

    model = materializations(instance, "churn_model")[0].metadata
    assert model["metric/roc_auc"].value >= 0.7
    assert model["storage_format"].value == "skops"
    features = materializations(instance, "member_visit_features")[0].metadata
    assert features["dagster/row_count"].value == len(
        pd.read_parquet(product_path(storage_root, "member_visit_features"))
    )
    assert "days_since_last_visit" in {
        c.name for c in features["dagster/column_schema"].value.columns
    }
    link = features["executed_notebook"]
    assert isinstance(link, dg.NotebookMetadataValue)
    assert link.value == str(executed / "member_visit_features.ipynb")
    assert features["inputs"].value["members"]["area"] == "sources"
    scores_inputs = materializations(instance, "churn_scores")[0].metadata["inputs"].value
    assert scores_inputs["churn_model"]["area"] == "local"

    checks = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("churn_model"), "metric__roc_auc"), limit=1
    )
    assert checks[0].status.value == "SUCCEEDED"

    # What the kernel ran: our injected and teardown cells, never dagster or the code location.
    nb = nbformat.read(executed / "churn_scores.ipynb", as_version=4)
    original = nbformat.read(catalog_dir / "churn" / "churn_scores.ipynb", as_version=4)
    assert "injected-setup" in nb.cells[0].metadata.tags
    setup = nb.cells[0].source
    assert len(setup.splitlines()) == 3 and max(len(line) for line in setup.splitlines()) < 200
    # The notebook as written runs unchanged after the setup cell, its parameters cell included.
    assert [c.source for c in nb.cells[1:-1]] == [c.source for c in original.cells]
    assert nb.cells[-1].source == TEARDOWN_SOURCE
    assert not any("dagster" in c.source.replace("catalog_assets", "") for c in nb.cells)
    debug = [
        e.message for e in instance.all_logs(run.run_id) if e.message and "kernel:" in e.message
    ]
    assert len(debug) == 4 and all("dagster imported: False" in m for m in debug)


def test_failing_notebook_keeps_previous_value_and_its_executed_notebook(
    catalog_env, catalog_dir, storage_root, tmp_path
):
    assert materialize("genre_affinity").success
    ref_path = storage_root / "local" / "refs" / "genre_affinity.json"
    good = ref_path.read_bytes()
    objects = sorted((storage_root / "objects").rglob("*"))

    notebook = catalog_dir / "features" / "genre_affinity.ipynb"
    # Fails after handing back: the staged product must be discarded, not committed.
    add_cell(notebook, 'raise ValueError("genre table broken on purpose")', before_last=False)
    result = materialize("genre_affinity")
    assert not result.success
    assert ref_path.read_bytes() == good
    assert sorted((storage_root / "objects").rglob("*")) == objects
    assert not list((storage_root / ".staging").iterdir())

    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert f"genre_affinity.ipynb: cell {len(nb_cells(catalog_dir))} raised" in message
    assert "ValueError: genre table broken on purpose" in message
    assert "The previous value (version " in message and ") is kept." in message
    executed = tmp_path / ".catalog" / "executed" / result.run_id / "genre_affinity.ipynb"
    assert executed.exists() and str(executed) in message
    saved = nbformat.read(executed, as_version=4)
    assert any(
        o.get("ename") == "ValueError"
        for c in saved.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    # The asset's page in the UI links the failed run's notebook too.
    instance = dg.DagsterInstance.get()
    observation = instance.fetch_observations(dg.AssetKey("genre_affinity"), limit=1).records[0]
    metadata = observation.asset_observation.metadata
    assert metadata["executed_notebook"].value == str(executed)
    assert "ValueError" in metadata["error"].value
    assert len(materializations(instance, "genre_affinity")) == 1


def nb_cells(catalog_dir):
    return nbformat.read(catalog_dir / "features" / "genre_affinity.ipynb", as_version=4).cells


def test_notebook_that_never_hands_back_fails_clearly(catalog_env, catalog_dir, storage_root):
    notebook = catalog_dir / "features" / "genre_affinity.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[-1].source = "affinity.head()"
    nbformat.write(nb, notebook)
    result = materialize("genre_affinity")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "never handed back its product" in failure.step_failure_data.error.message
    assert current(storage_root, "genre_affinity") is None


def test_blocking_check_failure_stops_downstream(catalog_env, catalog_dir, storage_root):
    metadata = catalog_dir / "features" / "member_visit_features.yaml"
    metadata.write_text(
        metadata.read_text().replace(
            "  - row_count:\n      min: 100\n",
            "  - row_count:\n      min: 100000000\n    blocking: true\n",
        )
    )
    result = materialize("member_visit_features", "churn_model")
    assert not result.success
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert not evaluations["row_count"].passed
    assert evaluations["unique__member_id__snapshot"].passed
    # The feature table is stored (a check judges a materialization), the model never runs.
    assert current(storage_root, "member_visit_features") is not None
    assert current(storage_root, "churn_model") is None
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"member_visit_features"}
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "blocking asset check failed" in failure.step_failure_data.error.message


def test_same_notebook_runs_unchanged_in_jupyter(catalog_env, catalog_dir, storage_root):
    assert materialize("member_visit_features").success
    path = catalog_dir / "churn" / "churn_model.ipynb"
    version_before = code_version(load_catalog(catalog_dir).entry("churn_model"))
    original = nbformat.read(path, as_version=4)

    # As Jupyter does: every cell top to bottom in a python3 kernel started in the notebook's
    # folder, the parameters cell included, then save the notebook with its outputs.
    nb = run_like_jupyter(path)
    nbformat.write(nb, path)

    assert [c.source for c in nb.cells] == [c.source for c in original.cells]
    last = outputs_text(nb.cells[-1])
    assert "HistGradientBoostingClassifier" in last
    # In Jupyter, catalog.output is a dry run: what a run would store, and the checks' results.
    assert "catalog.output (dry run, nothing stored): churn_model would be stored as skops" in last
    assert "check metric__roc_auc: passed: roc_auc = " in last
    metrics = nb.cells[-2].outputs[0]["data"]["text/plain"]
    assert "roc_auc" in metrics
    # Saving it with outputs does not make the asset look changed.
    assert code_version(load_catalog(catalog_dir).entry("churn_model")) == version_before
    assert current(storage_root, "churn_model") is None  # Jupyter writes nothing


def test_jupyter_without_a_materialized_input_says_what_to_run(catalog_env, catalog_dir):
    path = catalog_dir / "churn" / "churn_model.ipynb"
    with pytest.raises(Exception, match="no stored product 'member_visit_features'"):
        run_like_jupyter(path)


def test_kernel_environment_is_the_running_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    argv0 = spec.argv[0]
    assert argv0 in ("python", sys.executable) or os.path.samefile(argv0, sys.executable)
