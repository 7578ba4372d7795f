"""Guards for the dagstermill internals execution.py relies on: an upgrade that changes them fails
here, loudly, before any notebook silently runs differently."""

import inspect

import nbformat
from dagstermill.engine import DagstermillEngine, DagstermillNotebookClient

from catalog_assets.orchestration.execution import INJECTED_TAG, SETUP_TAG, TEARDOWN_TAG, inject


def test_dagstermill_client_still_runs_a_tagged_teardown_cell_through_execute_cell():
    source = inspect.getsource(DagstermillNotebookClient.papermill_execute_cells)
    assert f'"{TEARDOWN_TAG}"' in source, "dagstermill renamed its teardown tag"
    assert "self.execute_cell(new_cell, index)" in source, "teardown no longer via execute_cell"
    assert "break" in source, "dagstermill no longer stops at the first failing cell"


def test_dagstermill_engine_signature_is_what_we_mirror():
    parameters = inspect.signature(DagstermillEngine.execute_managed_notebook).parameters
    assert list(parameters) == [
        "nb_man",
        "kernel_name",
        "log_output",
        "stdout_file",
        "stderr_file",
        "start_timeout",
        "execution_timeout",
        "kwargs",
    ]


def test_setup_goes_first_and_params_follow_the_parameters_cell_which_stays():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import x"),
        nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_code_cell("b = a"),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    injected, positions = inject(nb, "setup()\n", "a = 2\n")
    assert [c.source for c in injected.cells] == [
        "setup()\n",
        "import x",
        "a = 1",
        "a = 2\n",
        "b = a",
    ]
    assert injected.cells[0].metadata.tags == [SETUP_TAG]
    assert injected.cells[3].metadata.tags == [INJECTED_TAG]
    assert positions == [None, 1, 2, None, 3]
    assert injected.metadata.kernelspec["name"] == "python3"
    assert nb.cells[1].source == "a = 1" and len(nb.cells) == 3  # the original is untouched


def test_without_params_only_the_setup_cell_is_added():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    injected, positions = inject(nb, "setup()\n", None)
    assert [c.source for c in injected.cells] == ["setup()\n", "x = 1"]
    assert positions == [None, 1]
