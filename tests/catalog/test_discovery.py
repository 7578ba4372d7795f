"""Catalog validation: every case a scientist can get wrong, reported per file and field."""

import json
from pathlib import Path

import dagster as dg
import pytest

from catalog_assets.catalog.discovery import inspect_catalog, load_catalog
from catalog_assets.catalog.problems import CatalogError
from catalog_assets.catalog.schema import is_valid_owner
from tests.helpers import ROOT, catalog_cli

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "source": "import pandas as pd",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "x = 1",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": "y = x",
            "outputs": [],
            "execution_count": None,
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
GOOD_YAML = "description: A thing.\nowner: team:data-science\n"


def add_entry(root: Path, group: str, name: str, yaml_text: str = GOOD_YAML, notebook=NOTEBOOK):
    folder = root / group
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml_text)
    if notebook is not None:
        text = notebook if isinstance(notebook, str) else json.dumps(notebook)
        (folder / f"{name}.ipynb").write_text(text)
    return folder / f"{name}.yaml"


def problems_of(root: Path) -> list[str]:
    _, problems = inspect_catalog(root)
    return [f"{p.path.name}: {p.field}: {p.message}" for p in problems]


def test_sample_catalog_is_valid():
    catalog = load_catalog(ROOT / "notebooks")
    assert set(catalog.entries) == {
        "member_visit_features",
        "genre_affinity",
        "churn_model",
        "churn_scores",
    }
    assert {e.group for e in catalog.entries.values()} == {"features", "churn"}
    assert set(catalog.sources) >= {"members", "transactions", "sessions", "films"}
    order = catalog.upstream_order()
    assert order.index("churn_model") < order.index("churn_scores")


@pytest.mark.parametrize(
    ("yaml_text", "field", "message"),
    [
        ("description: [unclosed\nowner: x\n", "line 2, column 6", "invalid YAML"),
        ("- just\n- a list\n", "metadata", "must be a mapping of fields"),
        ("owner: team:ds\n", "description", "required field is missing"),
        ("description: d\n", "owner", "required field is missing"),
        (GOOD_YAML + "colour: blue\n", "colour", "unknown field"),
        (GOOD_YAML + "inputs: members\n", "inputs", "'members': should be a valid list"),
        (GOOD_YAML + "kind: report\n", "kind", "'report': should be 'dataset' or 'model'"),
        (GOOD_YAML + "schedule: '0 6 * *'\n", "schedule", "five-field cron"),
        (GOOD_YAML + "schedule: '0 25 * * *'\n", "schedule", "not a valid cron"),
        (GOOD_YAML + "schedule: '0 0 30 2 *'\n", "schedule", "never fires"),
        ("description: d\nowner: jane\n", "owner", "is not an owner Dagster accepts"),
        (GOOD_YAML + "inputs: [not-a-name]\n", "inputs", "not a valid Python identifier"),
        (GOOD_YAML + "tags: {'bad key!': x}\n", "tags", "tag key 'bad key!' is not allowed"),
        (GOOD_YAML + "checks: [{not_null: [a], unique: [a]}]\n", "checks.0", "give exactly one of"),
        (GOOD_YAML + "checks: [{metric: 'auc is good'}]\n", "checks.0", "not of the form"),
        (
            GOOD_YAML + "checks: [{row_count: {min: 5, max: 2}}]\n",
            "checks.0.row_count",
            "min (5) is greater than max (2)",
        ),
        (
            GOOD_YAML + "kind: model\nchecks: [{not_null: [a]}]\n",
            "metadata",
            "models take metric thresholds",
        ),
        ("description: '   '\nowner: team:ds\n", "description", "must not be blank"),
    ],
)
def test_metadata_problems_name_file_and_field(tmp_path, yaml_text, field, message):
    add_entry(tmp_path, "features", "thing", yaml_text)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"thing.yaml: {field}: ") and message in p for p in problems), problems


def test_unknown_input(tmp_path):
    add_entry(tmp_path, "g", "thing", GOOD_YAML + "inputs: [ghost]\n")
    assert problems_of(tmp_path) == [
        "thing.yaml: inputs.0: unknown input 'ghost': not a catalog entry nor a source in "
        "sources.yaml"
    ]


def test_self_dependency(tmp_path):
    add_entry(tmp_path, "g", "thing", GOOD_YAML + "inputs: [thing]\n")
    assert problems_of(tmp_path) == ["thing.yaml: inputs.0: an entry cannot be its own input"]


def test_cycle_is_named(tmp_path):
    add_entry(tmp_path, "g", "a", GOOD_YAML + "inputs: [c]\n")
    add_entry(tmp_path, "g", "b", GOOD_YAML + "inputs: [a]\n")
    add_entry(tmp_path, "h", "c", GOOD_YAML + "inputs: [b]\n")
    add_entry(tmp_path, "h", "free", GOOD_YAML + "inputs: [a]\n")
    problems = problems_of(tmp_path)
    assert len(problems) == 3, problems
    assert all("dependency cycle: " in p for p in problems)
    cycle = problems[0].split("dependency cycle: ")[1].split(" -> ")
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]


def test_duplicate_names_name_both_files(tmp_path):
    add_entry(tmp_path, "features", "thing")
    add_entry(tmp_path, "churn", "thing")
    _, problems = inspect_catalog(tmp_path)
    paths = sorted(str(p.path.relative_to(tmp_path)) for p in problems)
    assert paths == ["churn/thing.yaml", "features/thing.yaml"]
    assert all(
        "churn/thing.yaml" in p.message and "features/thing.yaml" in p.message for p in problems
    )


@pytest.mark.parametrize("name", ["2fast", "class", "my-entry", "has space"])
def test_invalid_entry_names(tmp_path, name):
    add_entry(tmp_path, "g", name)
    assert any(p.startswith(f"{name}.yaml: name: ") for p in problems_of(tmp_path))


def test_entry_name_clashing_with_source(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - {name: thing, description: d, provider: p, location: t.parquet}\n"
    )
    add_entry(tmp_path, "g", "thing")
    assert any("also a source" in p for p in problems_of(tmp_path))


def test_missing_notebook(tmp_path):
    add_entry(tmp_path, "g", "thing", notebook=None)
    assert problems_of(tmp_path) == [
        "thing.ipynb: notebook: missing; every metadata file needs thing.ipynb beside it"
    ]


def test_notebook_without_metadata(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "lonely.ipynb").write_text(json.dumps(NOTEBOOK))
    assert problems_of(tmp_path)[0].startswith("lonely.ipynb: metadata: notebook has no metadata")


def test_unreadable_notebook(tmp_path):
    add_entry(tmp_path, "g", "thing", notebook="{not json")
    assert problems_of(tmp_path)[0].startswith(
        "thing.ipynb: notebook: unreadable as a Jupyter notebook"
    )


def test_a_parameters_cell_is_needed_only_with_params(tmp_path):
    notebook = json.loads(json.dumps(NOTEBOOK))
    notebook["cells"][1]["metadata"] = {}
    add_entry(tmp_path, "g", "thing", notebook=notebook)
    assert problems_of(tmp_path) == []
    add_entry(tmp_path, "g", "thing", GOOD_YAML + "params: {k: 3}\n", notebook=notebook)
    assert problems_of(tmp_path) == [
        "thing.ipynb: parameters: the entry declares params, but no code cell is tagged "
        "'parameters'; tag the cell holding their defaults (a run sets them right after it)"
    ]


@pytest.mark.parametrize(
    "kernelspec",
    [
        None,
        {"name": "conda-env-ds-py", "display_name": "ds", "language": "python"},
        {"name": "python3", "display_name": "Python 3"},
    ],
)
def test_python_notebooks_run_on_python3_whatever_their_kernel_is_called(tmp_path, kernelspec):
    notebook = json.loads(json.dumps(NOTEBOOK))
    notebook["metadata"] = {"kernelspec": kernelspec} if kernelspec else {}
    add_entry(tmp_path, "g", "thing", notebook=notebook)
    assert problems_of(tmp_path) == []


def test_a_notebook_in_another_language_is_refused(tmp_path):
    notebook = json.loads(json.dumps(NOTEBOOK))
    notebook["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    add_entry(tmp_path, "g", "thing", notebook=notebook)
    assert problems_of(tmp_path) == [
        "thing.ipynb: metadata.kernelspec: the notebook is written for R (kernel 'ir'); catalog "
        "notebooks run on the 'python3' kernel"
    ]


def test_sources_file_problems(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "sources:\n"
        "  - {name: a, description: d, provider: p, location: ../escape.parquet}\n"
        "  - {name: a, description: d, provider: p, location: a.parquet, format: xlsx}\n"
    )
    problems = problems_of(tmp_path)
    assert any(p.startswith("sources.yaml: sources.0.location: ") for p in problems), problems
    assert any(p.startswith("sources.yaml: sources.1.format: ") for p in problems), problems


def test_entries_must_sit_in_a_group_folder(tmp_path):
    (tmp_path / "stray.yaml").write_text(GOOD_YAML)
    add_entry(tmp_path / "g", "deep", "too")
    problems = problems_of(tmp_path)
    assert any(p.startswith("stray.yaml: location: ") for p in problems)
    assert any(p.startswith("too.yaml: location: ") for p in problems)


def test_all_problems_reported_at_once_and_nothing_raised_early(tmp_path):
    add_entry(tmp_path, "g", "a", "description: d\nowner: nobody\nkind: x\n")
    add_entry(tmp_path, "g", "b", GOOD_YAML + "inputs: [ghost]\n", notebook="{")
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    lines = str(raised.value).splitlines()
    assert lines[0] == "The notebook catalog has 4 problems:"
    assert len(lines) == 5


@pytest.mark.parametrize(
    "owner", ["jane@example.com", "team:data-science", "team:", "jane", "team", "a@b", "x@y.io"]
)
def test_owner_rule_matches_dagster(owner):
    try:
        dg.AssetSpec("thing", owners=[owner])
        dagster_accepts = True
    except dg.DagsterInvalidDefinitionError:
        dagster_accepts = False
    assert is_valid_owner(owner) == dagster_accepts


@pytest.mark.parametrize("key", ["domain", "team/area", "a.b-c_d", "bad key", "a/b/c", "x" * 64])
def test_tag_rule_matches_dagster(tmp_path, key):
    add_entry(tmp_path, "g", "thing", GOOD_YAML + f"tags: {{'{key}': v}}\n")
    ours = not any("tags" in p for p in problems_of(tmp_path))
    try:
        dg.AssetSpec("thing", tags={key: "v"})
        dagster_accepts = True
    except dg.DagsterInvalidDefinitionError:
        dagster_accepts = False
    assert ours == dagster_accepts


def test_cli_validate_prints_every_problem_and_exits_1(tmp_path):
    add_entry(tmp_path, "g", "a", "description: d\nowner: nobody\n")
    add_entry(tmp_path, "g", "b", GOOD_YAML + "schedule: often\n")
    result = catalog_cli(None, "validate", "--catalog", str(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == [
        f"{tmp_path}/g/a.yaml: owner: 'nobody' is not an owner Dagster accepts: use an email "
        "address (jane@example.com) or a team name prefixed with 'team:' (team:data-science)",
        f"{tmp_path}/g/b.yaml: schedule: 'often' has 1 fields; a schedule is a five-field cron "
        "expression: minute hour day-of-month month day-of-week (e.g. '0 6 * * *')",
    ]
    assert "2 problems" in result.stderr


def test_cli_validate_summary_on_valid_catalog(catalog_dir):
    result = catalog_cli(None, "validate", "--catalog", str(catalog_dir))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("OK, 4 entries in 2 groups, 6 sources")


def test_yaml_is_loaded_safely(tmp_path):
    add_entry(tmp_path, "g", "thing", "!!python/object/apply:os.system ['echo pwned']\n")
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and "invalid YAML" in problems[0]


def test_size_limits_are_settings(catalog_dir, monkeypatch, capsys):
    from catalog_assets.cli import main

    monkeypatch.setenv("CATALOG_DIR", str(catalog_dir))
    monkeypatch.setenv("CATALOG_MAX_NOTEBOOK_MB", "0.002")  # about 2 KB: the sample's are larger
    monkeypatch.setenv("CATALOG_MAX_METADATA_KB", "64")
    assert main(["validate"]) == 1
    out = capsys.readouterr().out
    assert "churn_model.ipynb: file: is " in out and "(CATALOG_MAX_NOTEBOOK_MB raises it)" in out
    assert ".yaml: file:" not in out
    monkeypatch.setenv("CATALOG_MAX_METADATA_KB", "lots")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "catalog validate: CATALOG_MAX_METADATA_KB='lots' is not a positive number"
