"""Reading a notebook for what matters to running and versioning it (parsed, never run)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from catalog_assets.catalog.problems import Problem

PARAMETERS_TAG = "parameters"
KERNEL_NAME = "python3"


@dataclass(frozen=True)
class NotebookCode:
    """What of a notebook matters for running and versioning it."""

    code_cells: tuple[str, ...]
    kernel_name: str | None
    parameters_cell: int | None  # index among all cells of the cell tagged `parameters`


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def read_notebook(path: Path, problems: list[Problem]) -> NotebookCode | None:
    """Read what matters of a notebook, adding a problem for anything that stops it running."""
    try:
        data = json.loads(path.read_bytes())
        cells = data["cells"]
        assert isinstance(cells, list)
    except FileNotFoundError:
        problems.append(
            Problem(path, "notebook", f"missing; every metadata file needs {path.name} beside it")
        )
        return None
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as error:
        problems.append(Problem(path, "notebook", f"unreadable as a Jupyter notebook: {error}"))
        return None

    parameters = [
        index
        for index, cell in enumerate(cells)
        if cell.get("cell_type") == "code"
        and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if not parameters:
        problems.append(
            Problem(
                path,
                "parameters",
                "no code cell is tagged 'parameters'; tag the cell holding the local defaults of "
                "the inputs (it is replaced in a run)",
            )
        )
    elif len(parameters) > 1:
        problems.append(Problem(path, "parameters", "more than one cell is tagged 'parameters'"))
    kernel = data.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        problems.append(
            Problem(
                path,
                "metadata.kernelspec.name",
                f"kernel is {kernel!r}; catalog notebooks run on {KERNEL_NAME!r} (the "
                "deployment's own Python); pick that kernel in Jupyter",
            )
        )
    code = tuple(cell_source(cell) for cell in cells if cell.get("cell_type") == "code")
    return NotebookCode(code, kernel, parameters[0] if parameters else None)
