"""Code versions change with what decides a product, and only with that."""

import json
from pathlib import Path

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import code_version


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


def test_metadata_value_change_counts(catalog_dir):
    before = version_of(catalog_dir)
    metadata = catalog_dir / "churn" / "churn_model.yaml"
    metadata.write_text(metadata.read_text().replace("roc_auc >= 0.7", "roc_auc >= 0.75"))
    assert version_of(catalog_dir) != before


def test_versions_are_stable_and_distinct_across_entries(catalog_dir):
    catalog = load_catalog(catalog_dir)
    versions = {name: code_version(entry) for name, entry in catalog.entries.items()}
    assert versions == {
        name: code_version(e) for name, e in load_catalog(catalog_dir).entries.items()
    }
    assert len(set(versions.values())) == len(versions)
    assert all(len(v) == 16 and int(v, 16) >= 0 for v in versions.values())
