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
    language = kernelspec.get("language") or (metadata.get("language_info") or {}).get("name")
    if language in (None, "python") or kernelspec.get("name") == KERNEL_NAME:
        return None
    return (
        f"the notebook is written for {language} (kernel {kernelspec.get('name')!r}); catalog "
        f"notebooks run on the {KERNEL_NAME!r} kernel"
    )


def read_notebook(path: Path, problems: list[Problem], params: bool = False) -> NotebookCode | None:
    """Read what matters of a notebook, adding a problem for anything that stops it running.

    ``params``: the entry declares ``params:``, which a run injects after the ``parameters`` cell,
    so the notebook must have one.
    """
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
