"""Guards for the dagstermill internals execution.py relies on: an upgrade that changes them fails
here, loudly, before any notebook silently runs differently."""

import inspect

import nbformat
from dagstermill.engine import DagstermillEngine, DagstermillNotebookClient

from catalog_assets.orchestration.execution import INJECTED_TAG, TEARDOWN_TAG, replace_parameters


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


def test_parameters_cell_is_replaced_not_followed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import x"),
        nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_code_cell("b = a"),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    replaced = replace_parameters(nb, "a = 2\n")
    assert [c.source for c in replaced.cells] == ["import x", "a = 2\n", "b = a"]
    assert replaced.cells[1].metadata.tags == [INJECTED_TAG]
    assert nb.cells[1].source == "a = 1"  # the original is untouched
