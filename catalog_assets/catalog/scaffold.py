"""Making entries: ``catalog new`` scaffolds one; ``catalog adopt`` turns a notebook into one.

Both write a notebook and its metadata file that ``catalog validate`` accepts, and say what they
did. No Dagster imports.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from catalog_assets.catalog.discovery import Catalog, inspect_catalog
from catalog_assets.catalog.notebooks import KERNEL_NAME, PARAMETERS_TAG, cell_source
from catalog_assets.catalog.problems import did_you_mean
from catalog_assets.catalog.schema import GROUP, is_valid_name, is_valid_owner
from catalog_assets.catalog.static import analyse, parse_cell
from catalog_assets.errors import CatalogAssetsError

API_IMPORT = "from catalog_assets import notebook as catalog"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
_FORMAT_OF_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "excel",
    ".xls": "excel",
}


class ScaffoldError(CatalogAssetsError):
    """An entry cannot be made as asked; the message says why."""


@dataclass
class Made:
    """What a scaffolding command wrote and what it changed, for the report."""

    notebook: Path
    metadata: Path
    changes: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


def entry_name(stem: str) -> str:
    """A notebook file name as an entry name: ``iris-kmeans`` -> ``iris_kmeans``."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", stem).strip("_").lower() or "notebook"
    if name[0].isdigit():
        name = f"nb_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_"
    return name


def git_owner(folder: Path) -> str | None:
    """The git user's email, when it is an owner Dagster accepts."""
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], cwd=folder, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return email if email and is_valid_owner(email) else None


def _owner(given: str | None, folder: Path) -> str:
    if given:
        if not is_valid_owner(given):
            raise ScaffoldError(
                f"owner {given!r} is not an email address or team:<name> (e.g. team:data-science)"
            )
        return given
    found = git_owner(folder)
    if found is None:
        raise ScaffoldError(
            "no owner: set `git config user.email` to your address, or pass --owner "
            "(an email address or team:<name>)"
        )
    return found


def _target(catalog: Catalog, name: str, group: str) -> tuple[Path, Path]:
    if not is_valid_name(name):
        raise ScaffoldError(
            f"entry name {name!r} must be a Python identifier (letters, digits, '_', not "
            "starting with a digit, not a keyword)"
        )
    if not GROUP.match(group):
        raise ScaffoldError(f"group {group!r} must use only letters, digits and '_'")
    if name in catalog.entries or name in catalog.broken:
        raise ScaffoldError(f"the catalog already has an entry named {name!r}; pick another name")
    if name in catalog.sources:
        raise ScaffoldError(f"{name!r} is a source in sources.yaml; pick another name")
    folder = catalog.root / group
    notebook, metadata = folder / f"{name}.ipynb", folder / f"{name}.yaml"
    for path in (notebook, metadata):
        if path.exists():
            raise ScaffoldError(f"{path} already exists; refusing to overwrite it")
    return notebook, metadata


def _check_inputs(catalog: Catalog, inputs: list[str]) -> None:
    known = {*catalog.entries, *catalog.broken, *catalog.sources}
    for name in inputs:
        if name not in known:
            raise ScaffoldError(
                f"input {name!r} is neither an entry nor a source of the catalog"
                + did_you_mean(name, known)
            )


def _metadata_text(description: str, owner: str, kind: str, inputs: list[str]) -> str:
    lines = [
        f"description: {json.dumps(description)}",
        f"owner: {json.dumps(owner)}",
        f"kind: {kind}",
    ]
    if inputs:
        lines.append(f"inputs: [{', '.join(inputs)}]")
    return "\n".join(lines) + "\n"


def _write(notebook_path: Path, nb: nbformat.NotebookNode, metadata_path: Path, text: str) -> None:
    notebook_path.parent.mkdir(parents=True, exist_ok=True)
    with open(notebook_path, "x", encoding="utf-8") as handle:
        nbformat.write(nb, handle)
    with open(metadata_path, "x", encoding="utf-8") as handle:
        handle.write(text)


def _tagged(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell.metadata["tags"] = [PARAMETERS_TAG]
    return cell


def new_entry(
    catalog_dir: Path,
    name: str,
    group: str,
    kind: str = "dataset",
    inputs: list[str] | None = None,
    owner: str | None = None,
) -> Made:
    """Scaffold an entry that validates and materializes as it is."""
    catalog, _ = inspect_catalog(catalog_dir)
    inputs = list(inputs or [])
    notebook_path, metadata_path = _target(catalog, name, group)
    _check_inputs(catalog, inputs)
    owner = _owner(owner, catalog_dir)
    loads = "\n".join(f"{i} = catalog.load({i!r})" for i in inputs) or (
        f"# No inputs yet: list them under inputs in {name}.yaml and load them here, e.g.\n"
        '# visits = catalog.load("visits")'
    )
    tables = [i for i in inputs if i in catalog.sources or _is_dataset(catalog, i)]
    if kind == "model":
        imports = f"import pandas as pd\nfrom sklearn.dummy import DummyClassifier\n\n{API_IMPORT}"
        work = (
            "# Replace with your model: fit it, evaluate it on held-out rows, report metrics.\n"
            'X = pd.DataFrame({"feature": [0.0, 1.0, 2.0, 3.0]})\n'
            "y = [0, 1, 0, 1]\n"
            'model = DummyClassifier(strategy="most_frequent").fit(X, y)\n'
            'metrics = {"train_rows": len(X)}'
        )
        hand_back = "catalog.output(model, metrics=metrics)"
    else:
        imports = f"import pandas as pd\n\n{API_IMPORT}"
        value = f"{tables[0]}.head(100)" if tables else 'pd.DataFrame({"example": [1, 2, 3]})'
        work = f"# Replace with your transformation.\nresult = {value}"
        hand_back = "catalog.output(result)"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}\n\nWhat this {kind} is, and how it is made."),
        nbformat.v4.new_code_cell(imports),
        _tagged(nbformat.v4.new_code_cell(loads)),
        nbformat.v4.new_code_cell(work),
        nbformat.v4.new_code_cell(hand_back),
    ]
    description = f"TODO: describe {name} (what it holds, for whom)."
    _write(notebook_path, nb, metadata_path, _metadata_text(description, owner, kind, inputs))
    return Made(notebook_path, metadata_path, todo=[f"describe {name} in {metadata_path.name}"])


def _is_dataset(catalog: Catalog, name: str) -> bool:
    entry = catalog.entries.get(name)
    return entry is not None and entry.metadata.kind == "dataset"


def adopt(
    source: Path,
    catalog_dir: Path,
    group: str,
    inputs: list[str] | None = None,
    owner: str | None = None,
    name: str | None = None,
    kind: str = "dataset",
) -> Made:
    """Copy an existing notebook into the catalog as an entry, changing only what must change."""
    if not source.is_file():
        raise ScaffoldError(f"{source}: no such notebook")
    try:
        nb = nbformat.read(source, as_version=4)
    except Exception as error:
        raise ScaffoldError(f"{source}: not a readable Jupyter notebook: {error}") from None
    catalog, _ = inspect_catalog(catalog_dir)
    inputs = list(inputs or [])
    name = name or entry_name(source.stem)
    notebook_path, metadata_path = _target(catalog, name, group)
    _check_inputs(catalog, inputs)
    owner = _owner(owner, catalog_dir)
    made = Made(notebook_path, metadata_path)
    changes, todo = made.changes, made.todo
    if name != source.stem:
        changes.append(
            f"named the entry {name!r} (from {source.name!r}: entry names are identifiers)"
        )

    kernelspec = nb.metadata.get("kernelspec")
    if not kernelspec:
        changes.append(f"set the kernel to {KERNEL_NAME!r} (the notebook named none)")
    elif kernelspec.get("name") != KERNEL_NAME:
        changes.append(f"set the kernel to {KERNEL_NAME!r} (was {kernelspec.get('name')!r})")
    nb.metadata["kernelspec"] = KERNELSPEC

    stripped = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            stripped += bool(cell.get("outputs")) or cell.get("execution_count") is not None
            cell.outputs = []
            cell.execution_count = None
    if stripped:
        changes.append(f"cleared the outputs of {stripped} code cells (outputs are not committed)")

    code = [c for c in nb.cells if c.cell_type == "code"]
    if not any(API_IMPORT in cell_source(c) or "catalog_assets" in cell_source(c) for c in code):
        # A cell of its own: a cell magic (%%time) must stay on its cell's first line.
        first_code = next(
            (i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells)
        )
        nb.cells.insert(first_code, nbformat.v4.new_code_cell(API_IMPORT))
        changes.append(f"added a cell `{API_IMPORT}` before the first code cell")

    parameters = next(
        (
            c
            for c in nb.cells
            if c.cell_type == "code" and PARAMETERS_TAG in c.metadata.get("tags", [])
        ),
        None,
    )
    if inputs:
        lines = "\n".join(f"{i} = catalog.load({i!r})" for i in inputs)
        if parameters is None:
            parameters = _tagged(nbformat.v4.new_code_cell(lines))
            # After the notebook's own first code cell (its imports), not our import cell.
            own = [
                i
                for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and cell_source(c) != API_IMPORT
            ]
            nb.cells.insert(own[0] + 1 if own else len(nb.cells), parameters)
            changes.append(
                f"added a cell tagged 'parameters' after the imports loading {', '.join(inputs)}"
            )
        else:
            parameters.source = f"{cell_source(parameters).rstrip()}\n{lines}".lstrip("\n")
            changes.append(f"added loads of {', '.join(inputs)} to the 'parameters' cell")

    numbered = [(i + 1, cell_source(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    facts = analyse(numbered)
    if not facts.outputs:
        product = _product_guess(nb)
        if product:
            nb.cells.append(nbformat.v4.new_code_cell(f"catalog.output({product})"))
            changes.append(
                f"added a last cell handing back `{product}` (the last value the notebook "
                "assigns): check it is the product you mean"
            )
        else:
            todo.append("end the notebook with catalog.output(<your product>)")
    for reader, target, finding in facts.local_reads:
        source_name = entry_name(Path(target).stem)
        fmt = _FORMAT_OF_SUFFIX.get(Path(target).suffix.lower(), "file")
        call = "path" if fmt == "file" or reader in ("open", "load") else "load"
        todo.append(
            f"cell {finding.cell}: {reader}({target!r}) reads a local file; declare it as a source "
            f"and use catalog.{call}({source_name!r}) (and list {source_name} under inputs):\n"
            f"    - name: {source_name}\n"
            f"      description: TODO\n"
            f"      provider: TODO\n"
            f"      location: {group}/{Path(target).name}\n"
            f"      format: {fmt}"
        )
    for finding in facts.installs:
        todo.append(
            f"cell {finding.cell}: remove {finding.text!r}; add the package to the notebooks "
            "extra in pyproject.toml and run make install"
        )

    description = _description(nb) or f"Adopted from {source.name}."
    _write(notebook_path, nb, metadata_path, _metadata_text(description, owner, kind, inputs))
    changes.insert(0, f"copied {source} to {notebook_path} (the original is untouched)")
    changes.append(f"wrote {metadata_path} (description, owner {owner}, kind {kind})")
    return made


def _description(nb: nbformat.NotebookNode) -> str | None:
    """The notebook's title: its first markdown heading, else its first line of prose."""
    lines = [
        line.strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell_source(cell).splitlines()
        if line.strip()
    ]
    heading = next((line for line in lines if line.startswith("#")), None)
    chosen = heading or (lines[0] if lines else None)
    return chosen.lstrip("#").strip()[:200] or None if chosen else None


def _product_guess(nb: nbformat.NotebookNode) -> str | None:
    """The last name a top-level statement of the notebook assigns (of ``fig, ax = ...``, the
    first: the figure)."""
    for cell in reversed([c for c in nb.cells if c.cell_type == "code"]):
        try:
            tree = parse_cell(cell_source(cell))
        except SyntaxError:
            continue
        for node in reversed(tree.body):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in reversed(targets):
                if isinstance(target, ast.Tuple | ast.List) and target.elts:
                    target = target.elts[0]
                if isinstance(target, ast.Name) and not target.id.startswith("_"):
                    return target.id
    return None
