"""`catalog new` and `catalog adopt`: entries that validate as written, and every change reported.

Run through the CLI as a scientist runs it, on a copy of the sample catalog; git is isolated from
the user's own configuration, so the owner comes only from what each test sets up.
"""

import ast
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from catalog_assets.catalog.discovery import inspect_catalog
from catalog_assets.catalog.schema import SourceSpec
from catalog_assets.cli import main

API_IMPORT = "from catalog_assets import notebook as catalog"


@pytest.fixture
def isolated_git(tmp_path: Path, tmp_path_factory, monkeypatch) -> None:
    """git sees neither the user's global or system config nor a repository above tmp_path."""
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_CONFIG",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))


@pytest.fixture
def git_repo(tmp_path: Path, isolated_git) -> Path:
    """tmp_path (holding the catalog copy) as a git repository whose user is jane@example.com."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "config", "user.email", "jane@example.com"], check=True
    )
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def own_problems(catalog_dir: Path, name: str) -> list[str]:
    """What `catalog validate` says of one entry's two files."""
    _, problems = inspect_catalog(catalog_dir, static=True)
    return [str(p) for p in problems if p.path.stem == name and p.path.parent.parent == catalog_dir]


def own_errors(catalog_dir: Path, name: str) -> list[str]:
    return [p for p in own_problems(catalog_dir, name) if ": warning: " not in p]


def loaded_names(source: str) -> list[str]:
    """Names passed to ``catalog.load`` in a cell's code."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "catalog.load"
        and isinstance(node.args[0], ast.Constant)
    ]


def parameters_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]


# catalog new


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [("dataset", []), ("dataset", ["members", "genre_affinity"]), ("model", [])],
    ids=["dataset", "dataset-with-inputs", "model"],
)
def test_new_writes_an_entry_that_validates_as_it_is(catalog_dir, git_repo, capsys, kind, inputs):
    argv = [
        "new",
        "churn_report",
        "--group",
        "churn",
        "--kind",
        kind,
        "--catalog",
        str(catalog_dir),
    ]
    if inputs:
        argv += ["--inputs", ",".join(inputs)]
    code, out, err = run(capsys, *argv)
    assert code == 0, (out, err)
    assert "churn_report validates" in out
    assert err == ""

    assert own_errors(catalog_dir, "churn_report") == []
    metadata = yaml.safe_load((catalog_dir / "churn" / "churn_report.yaml").read_text())
    assert metadata["owner"] == "jane@example.com"
    assert metadata["kind"] == kind
    assert metadata.get("inputs", []) == inputs
    assert metadata["description"]

    notebook = nbformat.read(catalog_dir / "churn" / "churn_report.ipynb", as_version=4)
    assert notebook.metadata.kernelspec.name == "python3"
    [parameters] = parameters_cells(notebook)
    assert loaded_names(parameters.source) == inputs
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert API_IMPORT in code_cells[0].source
    assert code_cells[-1].source.startswith("catalog.output(")


def test_new_runs_git_in_the_catalog_directory_for_the_owner(
    catalog_dir, git_repo, capsys, monkeypatch, tmp_path_factory
):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not a repository
    code, out, err = run(capsys, "new", "weekly", "--group", "churn", "--catalog", str(catalog_dir))
    assert code == 0, (out, err)
    metadata = yaml.safe_load((catalog_dir / "churn" / "weekly.yaml").read_text())
    assert metadata["owner"] == "jane@example.com"


def test_new_takes_the_owner_given(catalog_dir, git_repo, capsys):
    code, out, err = run(
        capsys,
        "new",
        "weekly",
        "--group",
        "churn",
        "--owner",
        "team:ml",
        "--catalog",
        str(catalog_dir),
    )
    assert code == 0, (out, err)
    metadata = yaml.safe_load((catalog_dir / "churn" / "weekly.yaml").read_text())
    assert metadata["owner"] == "team:ml"


def test_new_without_any_owner_says_how_to_give_one(catalog_dir, isolated_git, capsys):
    before = files_under(catalog_dir)
    code, out, err = run(capsys, "new", "weekly", "--group", "churn", "--catalog", str(catalog_dir))
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("catalog new: no owner: ")
    assert "git config user.email" in line
    assert "--owner" in line
    assert files_under(catalog_dir) == before


def test_new_with_an_owner_given_needs_no_git(catalog_dir, isolated_git, capsys):
    code, out, err = run(
        capsys,
        "new",
        "weekly",
        "--group",
        "churn",
        "--owner",
        "jo@example.org",
        "--catalog",
        str(catalog_dir),
    )
    assert code == 0, (out, err)
    assert (
        yaml.safe_load((catalog_dir / "churn" / "weekly.yaml").read_text())["owner"]
        == "jo@example.org"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["churn_model"],
            "the catalog already has an entry named 'churn_model'; pick another name",
        ),
        (["members"], "'members' is a source in sources.yaml; pick another name"),
        (["1st_report"], "entry name '1st_report' must be a Python identifier"),
        (["churn-report"], "entry name 'churn-report' must be a Python identifier"),
        (["class"], "entry name 'class' must be a Python identifier"),
        (
            ["churn_report", "--inputs", "members,genre_afinity"],
            "input 'genre_afinity' is neither an entry nor a source of the catalog; did you mean "
            "'genre_affinity'?",
        ),
        (["churn_report", "--owner", "nobody"], "owner 'nobody' is not an email address or team:"),
    ],
)
def test_new_refuses_with_one_line_and_writes_nothing(
    catalog_dir, git_repo, capsys, args, expected
):
    before = files_under(catalog_dir)
    code, out, err = run(capsys, "new", *args, "--group", "churn", "--catalog", str(catalog_dir))
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("catalog new: ")
    assert expected in line
    assert files_under(catalog_dir) == before


def test_new_refuses_a_group_that_is_not_a_folder_name(catalog_dir, git_repo, capsys):
    code, _, err = run(
        capsys, "new", "weekly", "--group", "churn/2024", "--catalog", str(catalog_dir)
    )
    assert code == 2
    assert err.splitlines() == [
        "catalog new: group 'churn/2024' must use only letters, digits and '_'"
    ]


def test_new_never_overwrites_a_file(catalog_dir, git_repo, capsys):
    stray = catalog_dir / "churn" / "weekly.ipynb"  # a notebook not yet in the catalog (no YAML)
    stray.write_text("my unsaved work")
    code, out, err = run(capsys, "new", "weekly", "--group", "churn", "--catalog", str(catalog_dir))
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("catalog new: ")
    assert line.endswith("weekly.ipynb already exists; refusing to overwrite it")
    assert stray.read_text() == "my unsaved work"
    assert not (catalog_dir / "churn" / "weekly.yaml").exists()


# catalog adopt


def iris_notebook() -> nbformat.NotebookNode:
    """A notebook as found on a laptop: no kernelspec, outputs, execution counts, a local read."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Iris clusters\n\nK-means on the iris measurements."),
        nbformat.v4.new_code_cell(
            "import pandas as pd\nfrom sklearn.cluster import KMeans", execution_count=1
        ),
        nbformat.v4.new_code_cell(
            'iris = pd.read_csv("data/iris.csv")\niris.head()',
            execution_count=2,
            outputs=[
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "   sepal_length ..."}, execution_count=2
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "model = KMeans(n_clusters=3, n_init=10).fit(iris)\nlabels = model.predict(iris)",
            execution_count=3,
        ),
    ]
    return notebook


def write_notebook(folder: Path, name: str, notebook) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(notebook, str(path))
    return path


def adopt(capsys, catalog_dir: Path, path: Path, *args: str) -> tuple[int, str, str]:
    return run(
        capsys, "adopt", str(path), "--group", "flowers", *args, "--catalog", str(catalog_dir)
    )


def test_adopt_reports_each_change_and_the_entry_validates(catalog_dir, git_repo, capsys):
    original = write_notebook(git_repo / "downloads", "iris-kmeans.ipynb", iris_notebook())
    original_bytes = original.read_bytes()

    code, out, err = adopt(capsys, catalog_dir, original)
    assert code == 0, (out, err)
    assert err == ""
    changes = [line.removeprefix("  - ") for line in out.splitlines() if line.startswith("  - ")]
    assert len(changes) == 7, out
    assert changes[0].startswith(f"copied {original} to ")
    assert changes[0].endswith("iris_kmeans.ipynb (the original is untouched)")
    assert changes[1] == (
        "named the entry 'iris_kmeans' (from 'iris-kmeans.ipynb': entry names are identifiers)"
    )
    assert changes[2] == "set the kernel to 'python3' (the notebook named none)"
    assert changes[3].startswith("cleared the outputs of 3 code cells")
    assert changes[4] == f"added a cell `{API_IMPORT}` before the first code cell"
    assert changes[5].startswith("added a last cell handing back `labels`")
    assert "description, owner jane@example.com, kind dataset" in changes[6]
    assert out.splitlines()[-1].startswith("iris_kmeans validates")

    assert original.read_bytes() == original_bytes
    adopted = nbformat.read(catalog_dir / "flowers" / "iris_kmeans.ipynb", as_version=4)
    assert adopted.metadata.kernelspec.name == "python3"
    code_cells = [c for c in adopted.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code_cells)
    assert code_cells[0].source.splitlines()[0] == API_IMPORT
    assert code_cells[-1].source == "catalog.output(labels)"
    assert own_errors(catalog_dir, "iris_kmeans") == []
    metadata = yaml.safe_load((catalog_dir / "flowers" / "iris_kmeans.yaml").read_text())
    assert metadata["description"] == "Iris clusters"
    assert metadata["owner"] == "jane@example.com"


def test_adopt_suggests_a_source_for_a_local_read_with_a_ready_block(catalog_dir, git_repo, capsys):
    original = write_notebook(git_repo / "downloads", "iris-kmeans.ipynb", iris_notebook())
    code, out, _ = adopt(capsys, catalog_dir, original)
    assert code == 0
    lines = out.splitlines()
    [start] = [i for i, line in enumerate(lines) if "read_csv('data/iris.csv')" in line]
    assert lines[start].startswith("  to do: cell 4: read_csv('data/iris.csv') reads a local file")
    assert "catalog.load('iris')" in lines[start]
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        block.append(line)
    [declared] = yaml.safe_load("\n".join(block))
    source = SourceSpec.model_validate(declared)  # ready to paste into sources.yaml
    assert (source.name, source.format, source.location) == ("iris", "csv", "flowers/iris.csv")


def test_adopt_with_inputs_adds_a_parameters_cell_after_the_imports(catalog_dir, git_repo, capsys):
    original = write_notebook(git_repo / "downloads", "iris-kmeans.ipynb", iris_notebook())
    code, out, err = adopt(capsys, catalog_dir, original, "--inputs", "members")
    assert code == 0, (out, err)
    assert "  - added a cell tagged 'parameters' after the imports loading members" in out
    adopted = nbformat.read(catalog_dir / "flowers" / "iris_kmeans.ipynb", as_version=4)
    code_cells = [c for c in adopted.cells if c.cell_type == "code"]
    assert code_cells[0].source == "from catalog_assets import notebook as catalog"
    assert "import pandas as pd" in code_cells[1].source
    assert parameters_cells(adopted) == [code_cells[2]]
    assert loaded_names(code_cells[2].source) == ["members"]
    assert yaml.safe_load((catalog_dir / "flowers" / "iris_kmeans.yaml").read_text())["inputs"] == [
        "members"
    ]
    assert own_errors(catalog_dir, "iris_kmeans") == []


def test_adopt_with_inputs_appends_to_an_existing_parameters_cell(catalog_dir, git_repo, capsys):
    notebook = iris_notebook()
    parameters = nbformat.v4.new_code_cell("n_clusters = 3")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells.insert(2, parameters)
    original = write_notebook(git_repo / "downloads", "iris-kmeans.ipynb", notebook)

    code, out, err = adopt(capsys, catalog_dir, original, "--inputs", "members,films")
    assert code == 0, (out, err)
    assert "  - added loads of members, films to the 'parameters' cell" in out
    adopted = nbformat.read(catalog_dir / "flowers" / "iris_kmeans.ipynb", as_version=4)
    [cell] = parameters_cells(adopted)
    assert cell.source.splitlines()[0] == "n_clusters = 3"
    assert loaded_names(cell.source) == ["members", "films"]
    assert own_errors(catalog_dir, "iris_kmeans") == []


def test_adopt_keeps_a_pip_install_but_says_it_does_not_validate(catalog_dir, git_repo, capsys):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%pip install x\nimport pandas as pd"),
        nbformat.v4.new_code_cell("frame = pd.DataFrame({'a': [1]})"),
    ]
    original = write_notebook(git_repo / "downloads", "setup.ipynb", notebook)
    code, out, _ = adopt(capsys, catalog_dir, original)
    assert (catalog_dir / "flowers" / "setup.ipynb").exists()
    assert code == 1
    assert "installs packages" in out
    assert out.splitlines()[-1].startswith("setup does not validate yet")


def test_adopt_takes_the_description_from_the_first_markdown_heading(catalog_dir, git_repo, capsys):
    notebook = iris_notebook()
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import numpy as np"))
    notebook.cells[1].source = "## Iris clusters, by petal size\n\nSome prose."
    original = write_notebook(git_repo / "downloads", "iris.ipynb", notebook)
    code, _, _ = adopt(capsys, catalog_dir, original)
    assert code == 0
    metadata = yaml.safe_load((catalog_dir / "flowers" / "iris.yaml").read_text())
    assert metadata["description"] == "Iris clusters, by petal size"


def test_adopt_description_skips_markdown_before_the_first_heading(catalog_dir, git_repo, capsys):
    notebook = iris_notebook()
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("*Draft: do not share*"))
    original = write_notebook(git_repo / "downloads", "iris.ipynb", notebook)
    code, _, _ = adopt(capsys, catalog_dir, original)
    assert code == 0
    metadata = yaml.safe_load((catalog_dir / "flowers" / "iris.yaml").read_text())
    assert metadata["description"] == "Iris clusters"


def test_adopt_reads_an_nbformat_3_notebook(catalog_dir, git_repo, capsys):
    old = {
        "metadata": {"name": "old clusters"},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [
            {
                "metadata": {},
                "cells": [
                    {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Old clusters"},
                    {
                        "cell_type": "code",
                        "collapsed": False,
                        "input": "import pandas as pd",
                        "language": "python",
                        "metadata": {},
                        "outputs": [],
                        "prompt_number": 1,
                    },
                    {
                        "cell_type": "code",
                        "collapsed": False,
                        "input": "frame = pd.DataFrame({'a': [1, 2]})",
                        "language": "python",
                        "metadata": {},
                        "outputs": [],
                        "prompt_number": 2,
                    },
                ],
            }
        ],
    }
    original = git_repo / "downloads" / "old_clusters.ipynb"
    original.parent.mkdir()
    original.write_text(json.dumps(old))

    code, out, err = adopt(capsys, catalog_dir, original)
    assert code == 0, (out, err)
    adopted = json.loads((catalog_dir / "flowers" / "old_clusters.ipynb").read_text())
    assert adopted["nbformat"] == 4
    assert adopted["metadata"]["kernelspec"]["name"] == "python3"
    sources = ["".join(c["source"]) for c in adopted["cells"]]
    assert sources[0] == "# Old clusters"
    assert sources[-1] == "catalog.output(frame)"
    assert all(
        c.get("execution_count") is None for c in adopted["cells"] if c["cell_type"] == "code"
    )
    assert (
        yaml.safe_load((catalog_dir / "flowers" / "old_clusters.yaml").read_text())["description"]
        == "Old clusters"
    )
    assert own_errors(catalog_dir, "old_clusters") == []


def test_adopt_keeps_a_cell_magic_on_the_first_line_of_its_cell(catalog_dir, git_repo, capsys):
    notebook = iris_notebook()
    notebook.cells[1].source = "%%time\n" + notebook.cells[1].source
    original = write_notebook(git_repo / "downloads", "timed.ipynb", notebook)
    code, out, err = adopt(capsys, catalog_dir, original)
    assert code == 0, (out, err)
    adopted = nbformat.read(catalog_dir / "flowers" / "timed.ipynb", as_version=4)
    code_cells = [c for c in adopted.cells if c.cell_type == "code"]
    assert any(API_IMPORT in c.source for c in code_cells)
    assert [c for c in code_cells if "%%time" in c.source][0].source.startswith("%%time\n")
