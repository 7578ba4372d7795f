"""Static checks of notebook code: what `catalog validate` tells from the code without running it.

Each test builds a small catalog in ``tmp_path`` (``<root>/<group>/<name>.ipynb`` + ``.yaml``, and
``sources.yaml``) and reads the problems as a user sees them: ``<file>: <field>: <message>``.
"""

import json
import uuid
from pathlib import Path

import pytest

from catalog_assets.catalog.discovery import inspect_catalog
from catalog_assets.cli import main

API = "from catalog_assets import notebook as catalog"
OWNER = "owner: team:data-science\n"
SOURCES = """\
sources:
  - name: visits
    description: Cinema visits.
    provider: movio_synthetic
    location: movio/visits.parquet
  - name: members
    description: Loyalty members.
    provider: movio_synthetic
    location: movio/members.parquet
"""
WHERE_TO_DECLARE = "add the package to the notebooks extra in pyproject.toml"


def code_cell(source: str, *, parameters: bool = False) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": ["parameters"]} if parameters else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def add_entry(root: Path, group: str, name: str, cells: list, inputs=(), extra: str = "") -> Path:
    """Write ``<root>/<group>/<name>.ipynb`` and its metadata; return the notebook's path."""
    folder = root / group
    folder.mkdir(parents=True, exist_ok=True)
    notebook = {
        "cells": [code_cell(c) if isinstance(c, str) else c for c in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / f"{name}.ipynb").write_text(json.dumps(notebook))
    metadata = f"description: The {name} table.\n{OWNER}"
    if inputs:
        metadata += f"inputs: [{', '.join(inputs)}]\n"
    (folder / f"{name}.yaml").write_text(metadata + extra)
    return folder / f"{name}.ipynb"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A catalog with two sources and one valid entry, ``base``."""
    root = tmp_path / "notebooks"
    root.mkdir()
    (root / "sources.yaml").write_text(SOURCES)
    add_entry(root, "core", "base", [API, "catalog.output(1)"])
    return root


def report(root: Path) -> list[str]:
    """Every problem `inspect_catalog(static=True)` finds, as validate prints it (paths relative
    to the catalog root)."""
    _, problems = inspect_catalog(root, static=True)
    return [
        f"{p.path.relative_to(root)}: {p.field}: "
        f"{'warning: ' if p.severity == 'warning' else ''}{p.message}"
        for p in problems
    ]


def validate(root: Path, capsys: pytest.CaptureFixture) -> tuple[int, list[str], str]:
    code = main(["validate", "--catalog", str(root)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


@pytest.mark.parametrize("name", ["members", "base"], ids=["source", "entry"])
def test_loading_an_existing_entry_or_source_not_declared_says_add_it_to_inputs(root, name):
    add_entry(
        root,
        "g",
        "report",
        [
            markdown("# Report"),
            API,
            f'v = catalog.load("visits")\nx = catalog.load("{name}")',
            "catalog.output(v)",
        ],
        inputs=["visits"],
    )
    assert report(root) == [
        f"g/report.ipynb: cell 3, line 2: catalog.load({name!r}) reads {name!r}, which is not an "
        "input of this entry; add it to inputs in report.yaml"
    ]


@pytest.mark.parametrize(
    ("typo", "hint"),
    [
        ("vists", "visits"),  # a declared input
        ("membrs", "members"),  # a source the entry does not declare
        ("bse", "base"),  # an entry
        ("zzz_unrelated", None),
    ],
)
def test_an_unknown_name_gets_the_closest_declared_input_entry_or_source(root, typo, hint):
    add_entry(
        root,
        "g",
        "report",
        [API, f'v = catalog.load("visits")\nw = catalog.load("{typo}")', "catalog.output(v)"],
        inputs=["visits"],
    )
    expected = f"catalog.load({typo!r}): no input, entry or source is named {typo!r}"
    if hint:
        expected += f"; did you mean {hint!r}?"
    assert report(root) == [f"g/report.ipynb: cell 2, line 2: {expected}"]


def test_a_typo_prefers_a_declared_input_to_a_closer_entry(root):
    add_entry(root, "core", "membersz", [API, "catalog.output(1)"])
    add_entry(
        root,
        "g",
        "report",
        [API, 'm = catalog.load("members")\nx = catalog.load("membesz")', "catalog.output(m)"],
        inputs=["members"],
    )
    # 'membesz' is closer to the entry 'membersz', but the entry declares 'members'.
    assert report(root) == [
        "g/report.ipynb: cell 2, line 2: catalog.load('membesz'): no input, entry or source is "
        "named 'membesz'; did you mean 'members'?"
    ]


def test_a_declared_input_never_loaded_is_only_a_warning(root, capsys):
    add_entry(
        root,
        "g",
        "report",
        [API, 'v = catalog.load("visits")', "catalog.output(v)"],
        inputs=["visits", "members"],
    )
    assert report(root) == [
        "g/report.yaml: inputs.1: warning: 'members' is declared but the notebook never loads it "
        "(catalog.load('members')); load it or remove it from inputs"
    ]
    code, out, err = validate(root, capsys)
    assert code == 0, (out, err)
    assert len(out) == 2
    assert out[0].endswith(
        "g/report.yaml: inputs.1: warning: 'members' is declared but the notebook never loads it "
        "(catalog.load('members')); load it or remove it from inputs"
    )
    assert out[1].endswith("OK, 2 entries in 2 groups, 2 sources, 1 warning")
    assert err == ""


def test_a_load_with_a_computed_name_silences_the_never_loaded_warning(root):
    add_entry(
        root,
        "g",
        "report",
        [API, 'frames = {n: catalog.load(n) for n in ["visits", "members"]}', "catalog.output(1)"],
        inputs=["visits", "members"],
    )
    assert report(root) == []


def test_a_notebook_that_never_hands_back_its_product_is_an_error(root, capsys):
    add_entry(root, "g", "report", [API, 'v = catalog.load("visits")'], inputs=["visits"])
    assert report(root) == [
        "g/report.ipynb: catalog.output: the notebook never hands back its product; end it with "
        "catalog.output(value)"
    ]
    code, out, err = validate(root, capsys)
    assert code == 1
    assert [line for line in out if "catalog.output" in line] == out
    assert "1 problem in" in err


@pytest.mark.parametrize(
    ("statement", "module", "package"),
    [
        ("import cv2", "cv2", "opencv-python"),
        ("import sklearnx", "sklearnx", "sklearnx"),
        ("from skimage.filters import sobel", "skimage", "scikit-image"),
        ("import not_a_real_module.sub as sub", "not_a_real_module", "not-a-real-module"),
    ],
)
def test_a_missing_module_is_an_error_naming_the_package_to_add(root, statement, module, package):
    add_entry(
        root,
        "g",
        "report",
        [markdown("# Imports"), f"import pandas as pd\n{statement}\n{API}", "catalog.output(1)"],
    )
    [line] = report(root)
    assert line.startswith(f"g/report.ipynb: cell 2, line 2: import {statement.split()[1]}: ")
    assert f"{module!r} is not installed in this environment" in line
    assert f"add {package!r} to the notebooks extra in pyproject.toml" in line


def test_installed_modules_and_modules_of_the_repository_pass(root):
    # The repository is the catalog root's parent: a module and a package there are importable.
    helper, package = f"helpers_{uuid.uuid4().hex[:8]}", f"mylib_{uuid.uuid4().hex[:8]}"
    (root.parent / f"{helper}.py").write_text("SCALE = 2\n")
    (root.parent / package).mkdir()
    (root.parent / package / "__init__.py").write_text("")
    (root.parent / package / "models.py").write_text("class Clip: ...\n")
    imports = (
        "import pandas as pd\n"
        "import sklearn\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "import matplotlib.pyplot as plt\n"
        f"import {helper}\n"
        f"from {package}.models import Clip\n"
        "import os, json\n"
        f"{API}"
    )
    add_entry(root, "g", "report", [imports, "catalog.output(1)"])
    assert report(root) == []


@pytest.mark.parametrize(
    "line",
    [
        "%pip install x",
        "!pip install x",
        "!{sys.executable} -m pip install x",
        "%conda install x",
    ],
)
def test_installing_packages_from_the_notebook_is_an_error_naming_cell_and_line(root, line):
    add_entry(
        root,
        "g",
        "report",
        [markdown("# Setup"), f"import sys\n{line}\n{API}", "catalog.output(1)"],
    )
    [problem] = report(root)
    assert problem.startswith("g/report.ipynb: cell 2, line 2: installs packages (")
    assert "install x" in problem
    assert WHERE_TO_DECLARE in problem


def test_harmless_magics_do_not_break_parsing(root):
    add_entry(
        root,
        "g",
        "report",
        [
            f"%matplotlib inline\n{API}",
            '!ls\n%time v = 1\nvisits = catalog.load("visits")\nx = catalog.load("vists")',
            "catalog.output(visits)",
        ],
        inputs=["visits"],
    )
    # The load next to the magics is seen (no never-loaded warning), and so is the typo.
    assert report(root) == [
        "g/report.ipynb: cell 2, line 4: catalog.load('vists'): no input, entry or source is "
        "named 'vists'; did you mean 'visits'?"
    ]


def test_a_syntax_error_names_cell_and_line_counting_markdown_cells(root):
    add_entry(
        root,
        "g",
        "report",
        [
            markdown("# Title"),
            API,
            markdown("Now the work."),
            "%matplotlib inline\nx = 1\ny = (x +\n",
            "catalog.output(x)",
        ],
    )
    [line] = report(root)
    assert line.startswith("g/report.ipynb: cell 4, line 3: syntax error: ")
    assert "never closed" in line


@pytest.mark.parametrize(
    ("imports", "prefix"),
    [
        ("import catalog_assets.notebook as nb", "nb."),
        ("from catalog_assets.notebook import load, output", ""),
        ("from catalog_assets.notebook import load as nb_load, output as nb_output", "nb_"),
        ("from catalog_assets import notebook", "notebook."),
        ("import catalog_assets.notebook", "catalog_assets.notebook."),
    ],
)
def test_the_notebook_api_is_recognised_under_other_spellings(root, imports, prefix):
    add_entry(
        root,
        "g",
        "report",
        [
            imports,
            f'v = {prefix}load("visits")\nw = {prefix}load("membrs")',
            f"{prefix}output(v)",
        ],
        inputs=["visits"],
    )
    # The loads and the output are seen: only the typo is reported.
    assert report(root) == [
        "g/report.ipynb: cell 2, line 2: catalog.load('membrs'): no input, entry or source is "
        "named 'membrs'; did you mean 'members'?"
    ]


def test_a_param_the_parameters_cell_does_not_assign_is_a_warning(root, capsys):
    add_entry(
        root,
        "g",
        "clusters",
        [
            API,
            code_cell('num_clusters = 3\nvisits = catalog.load("visits")', parameters=True),
            "seed = 0\ncatalog.output(visits)",
        ],
        inputs=["visits"],
        extra="params: {num_clusters: 5, seed: 1}\n",
    )
    # 'seed' is assigned, but not in the parameters cell: Jupyter would not have it at the top.
    assert report(root) == [
        "g/clusters.yaml: params.seed: warning: 'seed' has no default in the parameters cell; a "
        "run sets it anyway, but Jupyter will not"
    ]
    code, out, _ = validate(root, capsys)
    assert code == 0
    assert out[-1].endswith("1 warning")


def test_every_problem_of_every_entry_is_reported_in_one_round(root, capsys):
    add_entry(root, "g", "no_output", [API, 'v = catalog.load("visits")'], inputs=["visits"])
    add_entry(root, "g", "typo", [API, 'v = catalog.load("vists")', "catalog.output(v)"])
    add_entry(
        root, "h", "broken", [markdown("# B"), f"import cv2\n{API}", "x = (", "catalog.output(1)"]
    )
    add_entry(
        root,
        "h",
        "unused",
        [API, 'v = catalog.load("visits")', "import sklearnx\ncatalog.output(v)"],
        inputs=["visits", "members"],
    )
    expected = report(root)
    assert [line.split(": ")[:2] for line in expected] == [
        ["g/no_output.ipynb", "catalog.output"],
        ["g/typo.ipynb", "cell 2, line 1"],
        ["h/broken.ipynb", "cell 2, line 1"],
        ["h/broken.ipynb", "cell 3, line 1"],
        ["h/unused.ipynb", "cell 3, line 1"],
        ["h/unused.yaml", "inputs.1"],
    ]
    code, out, err = validate(root, capsys)
    assert code == 1
    assert len(out) == len(expected)
    for printed, line in zip(out, expected, strict=True):
        assert printed.endswith(line)
    assert "5 problems and 1 warning in" in err
