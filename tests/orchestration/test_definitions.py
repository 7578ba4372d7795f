"""The code location: what a user sees in the Dagster UI before running anything."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from catalog_assets.catalog.discovery import inspect_catalog, load_catalog
from catalog_assets.catalog.fingerprint import code_version
from catalog_assets.catalog.problems import CatalogError
from tests.helpers import load_defs


def test_assets_keys_groups_deps_owners_kinds_and_versions(catalog_env, catalog_dir):
    definitions = load_defs()
    graph = definitions.resolve_asset_graph()
    catalog = load_catalog(catalog_dir)

    entries = {key.path[-1] for key in graph.materializable_asset_keys}
    assert entries == set(catalog.entries)
    sources = {key.path[-1] for key in graph.external_asset_keys}
    assert sources == set(catalog.sources)

    for name, entry in catalog.entries.items():
        spec = graph.get(dg.AssetKey(name))
        assert spec.group_name == entry.group
        assert spec.owners == [entry.metadata.owner]
        assert {dg.AssetKey(i) for i in entry.metadata.inputs} == spec.parent_keys
        assert spec.code_version == code_version(entry)
        assert spec.description == entry.metadata.description
        assert set(spec.kinds) == {
            "jupyter",
            "scikit-learn" if entry.metadata.kind == "model" else "pandas",
        }
        user_tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}
        assert user_tags == entry.metadata.tags
    assert graph.get(dg.AssetKey("members")).group_name == "sources"

    churn = graph.get(dg.AssetKey("churn_scores"))
    assert churn.parent_keys == {
        dg.AssetKey("churn_model"),
        dg.AssetKey("member_visit_features"),
        dg.AssetKey("genre_affinity"),
    }


def test_checks_are_declared_with_blocking(catalog_env):
    definitions = load_defs()
    specs = {
        (spec.asset_key.path[-1], spec.name): spec
        for assets_def in definitions.resolve_all_asset_specs()
        and definitions.resolve_asset_graph().assets_defs
        for spec in assets_def.check_specs
    }
    assert specs[("churn_model", "metric__roc_auc")].blocking
    assert specs[("member_visit_features", "unique__member_id__snapshot")].blocking
    assert not specs[("genre_affinity", "not_null__top_genre")].blocking
    assert specs[("churn_scores", "accepted_values__risk_band")].description == (
        "risk_band takes only: low, medium, high"
    )


@pytest.mark.parametrize(("deployment", "status"), [("local", "STOPPED"), ("prod", "RUNNING")])
def test_schedules_run_by_default_only_in_production(catalog_env, monkeypatch, deployment, status):
    monkeypatch.setenv("CATALOG_DEPLOYMENT", deployment)
    schedule = load_defs().resolve_schedule_def("churn_scores_schedule")
    assert schedule.cron_schedule == "0 6 * * 1"
    assert schedule.default_status.value == status


def test_strict_loading_fails_with_the_same_list(catalog_env, catalog_dir, monkeypatch):
    monkeypatch.setenv("CATALOG_STRICT", "1")
    (catalog_dir / "churn" / "churn_model.yaml").write_text("description: d\nowner: nobody\n")
    (catalog_dir / "features" / "genre_affinity.yaml").write_text("owner: team:x\n")
    expected = [str(p) for p in inspect_catalog(catalog_dir)[1]]
    with pytest.raises(CatalogError) as raised:
        load_defs()
    assert str(raised.value).splitlines()[1:] == sorted(expected)


def test_an_invalid_entry_loads_as_a_failing_asset_and_the_rest_as_usual(
    catalog_env, catalog_dir, caplog
):
    (catalog_dir / "churn" / "churn_model.yaml").write_text(
        "description: d\nowner: nobody\ninputs: [member_visit_features]\n"
    )
    (catalog_dir / "features" / "genre_affinity.yaml").write_text(": not yaml [\n")
    graph = load_defs().resolve_asset_graph()
    assert {k.path[-1] for k in graph.materializable_asset_keys} == {
        "member_visit_features",
        "genre_affinity",
        "churn_model",
        "churn_scores",
    }
    broken = graph.get(dg.AssetKey("churn_model"))
    assert broken.description.startswith("**This entry has problems and cannot run:**")
    assert "churn_model.yaml: owner: 'nobody' is not an owner Dagster accepts" in (
        broken.description
    )
    # Its downstream keep their dependency on it; it keeps its own declared inputs.
    assert dg.AssetKey("churn_model") in graph.get(dg.AssetKey("churn_scores")).parent_keys
    assert broken.parent_keys == {dg.AssetKey("member_visit_features")}
    assert graph.get(dg.AssetKey("genre_affinity")).parent_keys == set()
    warnings = [r.getMessage() for r in caplog.records if r.name == "catalog_assets"]
    assert len(warnings) == 1 and "2 catalog entries have problems" in warnings[0]


def test_importing_the_module_reads_no_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CATALOG_DIR", str(tmp_path / "does-not-exist"))
    code = "import catalog_assets.definitions; print('imported')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "imported", result.stderr


@pytest.mark.parametrize("strict", ["1", ""])
def test_dagster_cli_reports_catalog_problems_without_burying_them(
    catalog_env, catalog_dir, strict
):
    (catalog_dir / "churn" / "churn_model.yaml").write_text("description: d\nowner: nobody\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "catalog_assets.definitions",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CATALOG_STRICT": strict},
    )
    assert (result.returncode != 0) == bool(strict)
    assert "churn_model.yaml: owner: 'nobody' is not an owner Dagster accepts" in (
        result.stdout + result.stderr
    )


def test_a_description_edit_changes_the_metadata_version_not_the_code_version(
    catalog_env, catalog_dir
):
    def versions():
        spec = load_defs().resolve_asset_graph().get(dg.AssetKey("churn_scores"))
        meta = spec.metadata
        return spec.code_version, meta["catalog/metadata_version"], meta["catalog/checks_version"]

    code, metadata, checks = versions()
    path = catalog_dir / "churn" / "churn_scores.yaml"
    path.write_text(path.read_text().replace("Churn probability", "Churn likelihood"))
    assert versions() == (code, versions()[1], checks) and versions()[1] != metadata
