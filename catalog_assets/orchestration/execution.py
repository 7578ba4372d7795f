"""Run a catalog notebook in a real Jupyter kernel through dagstermill's papermill engine.

This is the one module that relies on dagstermill internals (``dagstermill.engine``), kept here on
purpose; ``tests/orchestration/test_execution.py`` fails loudly if an upgrade changes them.

What we keep of dagstermill: its notebook client, which stops at the first failing cell, marks it in
the executed notebook, and always runs a teardown cell afterwards; its retry when a kernel dies at
start-up because two parallel kernels raced for a port. Parameters are papermill's way, not
dagstermill's: the ``parameters`` cell runs as written and declared ``params`` are injected after
it, and our setup cell goes before the first cell. What we change: dagstermill's teardown cell
imports dagstermill, and with it all of Dagster, into the kernel only to release job resources;
and its injected cell rebuilds the whole job (the code location) inside the kernel. Our kernels
never import Dagster: the setup cell names a spec file of what the step resolved, and our teardown
cell reports back through a small typed report. That keeps a step near the cost of bare papermill
and independent of catalog size (see BENCHMARKS.md).
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import nbformat
import papermill
from dagster import BetaWarning

with warnings.catch_warnings():
    # Importing dagstermill builds its (beta) in-kernel Manager, which we never use; its warning
    # would greet every code-location load.
    warnings.simplefilter("ignore", BetaWarning)
    from dagstermill.engine import DagstermillEngine, DagstermillNotebookClient
from papermill.engines import papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from catalog_assets.catalog.notebooks import KERNEL_NAME, PARAMETERS_TAG

ENGINE_NAME = "catalog_assets"
SETUP_TAG = "injected-setup"
INJECTED_TAG = "injected-parameters"  # papermill's tag for the cell it inserts
TEARDOWN_TAG = "injected-teardown"  # the tag dagstermill's client gives its teardown cell
TEARDOWN_SOURCE = "import catalog_assets.kernel.api as __catalog_run\n__catalog_run._finish()\n"
_KERNEL_START_ATTEMPTS = 3


class NotebookFailed(RuntimeError):
    """A cell raised. ``cell`` (its position in the notebook as written, from 1, or None for an
    injected cell) and ``ename``/``evalue`` say which and what."""

    def __init__(self, error: PapermillExecutionError, cell: int | None):
        self.cell = cell
        self.ename = error.ename
        self.evalue = error.evalue
        where = f"cell {cell}" if cell is not None else "a cell catalog_assets injected"
        super().__init__(f"{where} raised {error.ename}: {error.evalue}")


class _CatalogNotebookClient(DagstermillNotebookClient):
    def execute_cell(self, cell, cell_index, *args, **kwargs):
        if TEARDOWN_TAG in cell.metadata.get("tags", []):
            cell.source = TEARDOWN_SOURCE
        return super().execute_cell(cell, cell_index, *args, **kwargs)


class _CatalogEngine(DagstermillEngine):
    """dagstermill's engine with our client (same argument handling as dagstermill's)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=120,
        execution_timeout=None,
        kernel_env=None,
        **kwargs,
    ):
        safe_kwargs = remove_args(["timeout", "startup_timeout", "input_path"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        # The kernel's environment is given explicitly: what it needs (endpoints, credentials)
        # reaches it there, never through a cell saved in the executed notebook.
        return _CatalogNotebookClient(nb_man, **final_kwargs).execute(env=kernel_env)


def inject(
    nb: nbformat.NotebookNode, setup: str, parameters: str | None
) -> tuple[nbformat.NotebookNode, list[int | None]]:
    """A copy of ``nb`` that runs as papermill runs a parameterised notebook.

    ``setup`` goes before the first cell; ``parameters`` (if any) right after the cell tagged
    ``parameters``, which itself runs unchanged. Returns the copy and, for each of its cells, that
    cell's position in ``nb`` counted from 1 (None for an injected cell).
    """
    nb = copy.deepcopy(nb)
    positions: list[int | None] = list(range(1, len(nb.cells) + 1))
    if parameters is not None:
        index = next(
            i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in cell.metadata.get("tags", [])
        )
        cell = nbformat.v4.new_code_cell(source=parameters)
        cell.metadata["tags"] = [INJECTED_TAG]
        nb.cells.insert(index + 1, cell)
        positions.insert(index + 1, None)
    cell = nbformat.v4.new_code_cell(source=setup)
    cell.metadata["tags"] = [SETUP_TAG]
    nb.cells.insert(0, cell)
    positions.insert(0, None)
    # Python whatever the notebook says (VS Code writes none): the deployment's own kernel.
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    return nb, positions


def run_notebook(
    notebook_path: Path,
    setup: str,
    parameters: str | None,
    executed_path: Path,
    warn: Callable[[str], None],
    kernel_env: dict[str, str] | None = None,
) -> None:
    """Execute the notebook with the injected cells; the executed copy is always written.

    Cell output streams to this process's stdout/stderr, i.e. the step's captured logs.

    Raises:
        NotebookFailed: a cell raised (the executed notebook shows which, with the traceback).
    """
    papermill_engines.register(ENGINE_NAME, _CatalogEngine)
    nb, positions = inject(nbformat.read(notebook_path, as_version=4), setup, parameters)
    executed_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(
                nb,
                str(executed_path),
                engine_name=ENGINE_NAME,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=True,
                stdout_file=sys.stdout,
                stderr_file=sys.stderr,
                start_timeout=120,
                kernel_env=kernel_env,
                # The kernel starts in the notebook's folder, as in Jupyter, without this process
                # changing its own working directory (papermill's `cwd` would).
                resources={"metadata": {"path": str(notebook_path.parent)}},
            )
            return
        except PapermillExecutionError as error:
            index = error.cell_index
            cell = positions[index] if 0 <= index < len(positions) else None
            raise NotebookFailed(error, cell) from None
        except RuntimeError as error:
            if "Kernel died before replying" not in str(error) or attempt == _KERNEL_START_ATTEMPTS:
                raise
            warn(f"kernel failed to start (attempt {attempt}), retrying: {error}")
            time.sleep(1)
