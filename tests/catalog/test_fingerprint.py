"""Three fingerprints: the code version changes with what decides a product, and only with that;
check edits change the checks version, descriptive edits the metadata version."""

import json
from pathlib import Path

import pytest

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import code_version, fields_of, versions
from catalog_assets.catalog.schema import EntryMetadata


def version_of(catalog_dir: Path, name: str = "churn_model") -> str:
    return code_version(load_catalog(catalog_dir).entry(name))


def edit_notebook(path: Path, change) -> None:
    notebook = json.loads(path.read_text())
    change(notebook)
    path.write_text(json.dumps(notebook, indent=1))


def test_outputs_counts_ids_and_kernel_metadata_do_not_count(catalog_dir):
    before = version_of(catalog_dir)

    def as_if_run_in_jupyter(notebook):
        for number, cell in enumerate(notebook["cells"]):
            cell["id"] = f"new-id-{number}"
            if cell["cell_type"] == "code":
                cell["execution_count"] = number + 40
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
                cell["metadata"]["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
        notebook["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
        notebook["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}

    edit_notebook(catalog_dir / "churn" / "churn_model.ipynb", as_if_run_in_jupyter)
    assert version_of(catalog_dir) == before


def test_markdown_and_yaml_comments_do_not_count(catalog_dir):
    before = version_of(catalog_dir)
    edit_notebook(
        catalog_dir / "churn" / "churn_model.ipynb",
        lambda nb: nb["cells"][0].update(source="# A new title\n\nReworded prose."),
    )
    metadata = catalog_dir / "churn" / "churn_model.yaml"
    metadata.write_text("# reviewed by the data team\n" + metadata.read_text() + "\n\n")
    assert version_of(catalog_dir) == before


def test_code_cell_change_counts(catalog_dir):
    before = version_of(catalog_dir)
    edit_notebook(
        catalog_dir / "churn" / "churn_model.ipynb",
        lambda nb: next(c for c in nb["cells"] if "max_iter=200" in "".join(c["source"])).update(
            source="".join(
                next(c for c in nb["cells"] if "max_iter=200" in "".join(c["source"]))["source"]
            ).replace("max_iter=200", "max_iter=300")
        ),
    )
    assert version_of(catalog_dir) != before


def test_moving_code_between_cells_counts(catalog_dir):
    path = catalog_dir / "churn" / "churn_model.ipynb"
    before = version_of(catalog_dir)

    def merge_two_code_cells(notebook):
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        last, previous = code[-1], code[-2]
        last["source"] = "".join(previous["source"]) + "".join(last["source"])
        previous["source"] = ""

    edit_notebook(path, merge_two_code_cells)
    assert version_of(catalog_dir) != before


def all_versions(catalog_dir: Path, name: str = "churn_scores"):
    return versions(load_catalog(catalog_dir).entry(name))


def edit_yaml(catalog_dir: Path, old: str, new: str, name: str = "churn/churn_scores") -> None:
    path = catalog_dir / f"{name}.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ("Churn probability and", "Churn likelihood and", "metadata"),
        ("owner: team:data-science", "owner: jane@example.com", "metadata"),
        ("domain: marketing", "domain: crm", "metadata"),
        ('schedule: "0 6 * * 1"', 'schedule: "0 7 * * 1"', "metadata"),
        ("  - row_count:\n      min: 1", "  - row_count:\n      min: 10", "checks"),
        ("    blocking: true", "    blocking: false", "checks"),
        (
            "inputs: [churn_model, member_visit_features, genre_affinity]",
            "inputs: [churn_model, member_visit_features]",
            "code",
        ),
        ("owner: team:data-science", "owner: team:data-science\nformat: pickle", "code"),
    ],
)
def test_each_edit_changes_exactly_its_fingerprint(catalog_dir, old, new, changes):
    before = all_versions(catalog_dir)
    edit_yaml(catalog_dir, old, new)
    after = all_versions(catalog_dir)
    changed = {
        kind
        for kind in ("code", "checks", "metadata")
        if getattr(before, kind) != getattr(after, kind)
    }
    assert changed == {changes}


def test_kind_counts_as_code(catalog_dir):
    before = all_versions(catalog_dir, "churn_model")
    edit_yaml(catalog_dir, "kind: model", "kind: dataset", "churn/churn_model")
    after = all_versions(catalog_dir, "churn_model")
    assert after.code != before.code and after.checks == before.checks


def test_input_order_changes_nothing(catalog_dir):
    before = all_versions(catalog_dir)
    edit_yaml(
        catalog_dir,
        "inputs: [churn_model, member_visit_features, genre_affinity]",
        "inputs: [genre_affinity, churn_model, member_visit_features]",
    )
    assert all_versions(catalog_dir) == before


def test_moving_an_entry_to_another_group_changes_only_its_metadata_version(catalog_dir):
    before = all_versions(catalog_dir)
    (catalog_dir / "marketing").mkdir()
    for suffix in (".ipynb", ".yaml"):
        (catalog_dir / "churn" / f"churn_scores{suffix}").rename(
            catalog_dir / "marketing" / f"churn_scores{suffix}"
        )
    after = all_versions(catalog_dir)
    assert (after.code, after.checks) == (before.code, before.checks)
    assert after.metadata != before.metadata


def test_every_metadata_field_feeds_exactly_one_fingerprint():
    kinds = {
        name: [k for k in ("code", "checks", "metadata") if name in fields_of(k)]
        for name in EntryMetadata.model_fields
    }
    assert all(len(found) == 1 for found in kinds.values()), kinds


def test_versions_are_stable_and_distinct_across_entries(catalog_dir):
    catalog = load_catalog(catalog_dir)
    versions = {name: code_version(entry) for name, entry in catalog.entries.items()}
    assert versions == {
        name: code_version(e) for name, e in load_catalog(catalog_dir).entries.items()
    }
    assert len(set(versions.values())) == len(versions)
    assert all(len(v) == 16 and int(v, 16) >= 0 for v in versions.values())
