"""Reading a notebook for what matters to running and versioning it (parsed, never run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_assets.catalog.files import Limits, load_json
from catalog_assets.catalog.problems import Problem

PARAMETERS_TAG = "parameters"
KERNEL_NAME = "python3"


@dataclass(frozen=True)
class NotebookCode:
    """What of a notebook matters for running and versioning it."""

    code_cells: tuple[str, ...]
    kernel_name: str | None
    parameters_cell: int | None  # index among all cells of the cell tagged `parameters`
    #: Each code cell's position among all cells, counted from 1 (as a reader counts them).
    cell_numbers: tuple[int, ...] = ()

    @property
    def numbered_cells(self) -> list[tuple[int, str]]:
        return list(zip(self.cell_numbers, self.code_cells, strict=True))


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def kernel_problem(metadata: dict) -> str | None:
    """Why a notebook's kernel cannot run as a catalog notebook, or None.

    Catalog notebooks run on the ``python3`` kernel (this environment's Python). A notebook with no
    kernelspec (as VS Code writes them) or another Python kernel's name runs there too; only a
    notebook in another language is refused.
    """
    kernelspec = metadata.get("kernelspec") or {}
    info = metadata.get("language_info")
    language = kernelspec.get("language") or (info.get("name") if isinstance(info, dict) else None)
    if language in (None, "python") or kernelspec.get("name") == KERNEL_NAME:
        return None
    return (
        f"the notebook is written for {language} (kernel {kernelspec.get('name')!r}); catalog "
        f"notebooks run on the {KERNEL_NAME!r} kernel"
    )


def _structure_problem(data: Any) -> tuple[str, str] | None:
    """(field, message) for a notebook whose JSON is not nbformat 4's shape, or None."""
    if not isinstance(data, dict):
        return "notebook", f"the JSON is a {type(data).__name__}, not a Jupyter notebook object"
    if "worksheets" in data or data.get("nbformat", 4) < 4:
        return "nbformat", (
            "an nbformat 3 notebook; open and save it in Jupyter, or `catalog adopt` it, to "
            "convert it to nbformat 4"
        )
    if "cells" not in data:
        return "cells", "the notebook has no 'cells'; it is not a Jupyter notebook"
    if not isinstance(data["cells"], list):
        return "cells", f"'cells' must be a list of cells, not a {type(data['cells']).__name__}"
    if not isinstance(data.get("metadata", {}), dict):
        return "metadata", "the notebook's metadata must be an object"
    kernelspec = data.get("metadata", {}).get("kernelspec")
    if kernelspec is not None and not isinstance(kernelspec, dict):
        return "metadata.kernelspec", "the kernelspec must be an object (name, display_name)"
    for index, cell in enumerate(data["cells"]):
        where = f"cells.{index}"
        if not isinstance(cell, dict):
            return where, f"a cell must be an object, not a {type(cell).__name__}"
        if not isinstance(cell.get("metadata", {}), dict):
            return f"{where}.metadata", "a cell's metadata must be an object"
        tags = cell.get("metadata", {}).get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return f"{where}.metadata.tags", "a cell's tags must be a list of strings"
        source = cell.get("source", "")
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            return f"{where}.source", "a cell's source must be text or a list of lines of text"
    return None


def read_notebook(
    path: Path,
    problems: list[Problem],
    params: bool = False,
    root: Path | None = None,
    limits: Limits | None = None,
) -> NotebookCode | None:
    """Read what matters of a notebook, adding a problem for anything that stops it running.

    ``params``: the entry declares ``params:``, which a run injects after the ``parameters`` cell,
    so the notebook must have one.
    """
    if not path.exists() and not path.is_symlink():
        problems.append(
            Problem(path, "notebook", f"missing; every metadata file needs {path.name} beside it")
        )
        return None
    data = load_json(path, root or path.parent, limits or Limits(), problems)
    if data is None:
        return None
    if found := _structure_problem(data):
        problems.append(Problem(path, *found))
        return None
    cells = data["cells"]
    parameters = [
        index
        for index, cell in enumerate(cells)
        if cell.get("cell_type") == "code"
        and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if params and not parameters:
        problems.append(
            Problem(
                path,
                "parameters",
                "the entry declares params, but no code cell is tagged 'parameters'; tag the cell "
                "holding their defaults (a run sets them right after it)",
            )
        )
    elif len(parameters) > 1:
        problems.append(Problem(path, "parameters", "more than one cell is tagged 'parameters'"))
    metadata = data.get("metadata") or {}
    if problem := kernel_problem(metadata):
        problems.append(Problem(path, "metadata.kernelspec", problem))
    code = [(index, cell) for index, cell in enumerate(cells) if cell.get("cell_type") == "code"]
    return NotebookCode(
        tuple(cell_source(cell) for _, cell in code),
        (metadata.get("kernelspec") or {}).get("name"),
        parameters[0] if parameters else None,
        tuple(index + 1 for index, _ in code),
    )
