"""Notebooks as people wrote them outside the catalog become entries with `catalog adopt` plus at
most a sources.yaml block and catalog.load / catalog.output lines, then run unchanged in Dagster
and under `jupyter nbconvert --execute`."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from catalog_assets.cli import main
from tests.helpers import materialize

pytestmark = pytest.mark.notebook

MESSY_CSV = "Rapport mensuel - Cinéma Lumière\nfilm;entrées;recette;date\n" + "".join(
    f"Film {i};{100 + 7 * i};{1000 + i},{i % 10}0;2024-03-{1 + i:02d}\n" for i in range(20)
)
VISITS_SOURCE = """
  - name: lumiere_report
    description: A cinema's monthly report, as exported by its box-office system.
    provider: lumiere
    location: lumiere/report.csv
    format: csv
    read: {sep: ";", encoding: latin-1, skip_rows: 1, decimal: ",", dates: [date]}
"""


def code(*cells: str, parameters: int | None = None, kernel: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    if kernel:
        nb.metadata["kernelspec"] = {
            "name": "conda-env-analysis-py",
            "display_name": "analysis",
            "language": "python",
        }
    for index, source in enumerate(cells):
        if source.startswith("# "):
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
            continue
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output("stream", text="an old output\n")]
        cell.execution_count = index + 1
        if index == parameters:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    return nb


# A data-science-handbook style plotting notebook: no kernelspec, %matplotlib, fig, ax.
PLOTTING = code(
    "# Sine waves",
    "%matplotlib inline\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
    "import seaborn as sns",
    "x = np.linspace(0, 10, 200)\nfig, ax = plt.subplots(figsize=(4, 3))\n"
    "for shift in range(3):\n    ax.plot(x, np.sin(x + shift))\nsns.despine(ax=ax)",
    kernel=False,
)
# A papermill-style parameterised notebook: defaults and imports in its parameters cell.
PARAMETERISED = code(
    "# Seasonality",
    "import pandas as pd\nimport numpy as np\nweeks = 8\nseed = 1",
    "rng = np.random.default_rng(seed)\n"
    "season = pd.DataFrame({'week': range(weeks), 'visits': rng.integers(50, 150, weeks)})",
    parameters=1,
)
# A pandas-cookbook style notebook reading a messy local CSV.
MESSY = code(
    "# Monthly report",
    "import pandas as pd",
    "report = pd.read_csv('data/report.csv', sep=';', encoding='latin-1', skiprows=1, "
    "decimal=',', parse_dates=['date'])",
    "weekly = report.groupby(report['date'].dt.isocalendar().week)['entrées'].sum().reset_index()",
)


def edit(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if old in c.source)
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def nbconvert(path: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("jupyter")),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--output",
            str(out),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_three_kinds_of_real_notebooks_adopted_with_only_sources_load_and_output_edits(
    catalog_env, catalog_dir, storage_root, tmp_path, capsys
):
    outside = tmp_path / "outside"
    outside.mkdir()
    for name, nb in {
        "sine-waves": PLOTTING,
        "seasonality": PARAMETERISED,
        "Monthly Report": MESSY,
    }.items():
        nbformat.write(nb, outside / f"{name}.ipynb")
    originals = {p: p.read_bytes() for p in outside.iterdir()}

    # The plotting notebook: adopt alone; the hand-back is the figure it made.
    assert (
        main(
            [
                "adopt",
                str(outside / "sine-waves.ipynb"),
                "--group",
                "handbook",
                "--owner",
                "team:ds",
            ]
        )
        == 0
    )
    assert "handing back `fig`" in capsys.readouterr().out

    # The parameterised notebook: adopt, and params in the YAML override its default.
    assert (
        main(
            [
                "adopt",
                str(outside / "seasonality.ipynb"),
                "--group",
                "handbook",
                "--owner",
                "team:ds",
            ]
        )
        == 0
    )
    yaml_path = catalog_dir / "handbook" / "seasonality.yaml"
    yaml_path.write_text(yaml_path.read_text() + "params: {weeks: 12}\n")

    # The messy CSV: a sources.yaml block, adopt with the input, the read line becomes a load.
    (storage_root / "sources" / "lumiere").mkdir(parents=True)
    (storage_root / "sources" / "lumiere" / "report.csv").write_bytes(MESSY_CSV.encode("latin-1"))
    sources = catalog_dir / "sources.yaml"
    sources.write_text(sources.read_text() + VISITS_SOURCE)
    assert (
        main(
            [
                "adopt",
                str(outside / "Monthly Report.ipynb"),
                "--group",
                "handbook",
                "--inputs",
                "lumiere_report",
                "--owner",
                "team:ds",
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "read_csv('data/report.csv') reads a local file; declare it as a source" in report
    notebook = catalog_dir / "handbook" / "monthly_report.ipynb"
    edit(
        notebook,
        "report = pd.read_csv('data/report.csv', sep=';', encoding='latin-1', skiprows=1, "
        "decimal=',', parse_dates=['date'])",
        "report = lumiere_report",
    )

    assert main(["validate"]) == 0, capsys.readouterr().out
    result = materialize("sine_waves", "seasonality", "monthly_report")
    assert result.success
    by_name = {
        m.asset_key.path[-1]: m.metadata
        for m in (
            ev.event_specific_data.materialization
            for ev in result.get_asset_materialization_events()
        )
    }
    assert by_name["sine_waves"]["storage_format"].value == "png"
    assert by_name["seasonality"]["dagster/row_count"].value == 12  # the param, not the default 8
    assert by_name["monthly_report"]["dagster/row_count"].value == 4  # ISO weeks 9-12
    assert {p: p.read_bytes() for p in outside.iterdir()} == originals  # adopt copied

    for name in ("sine_waves", "seasonality", "monthly_report"):
        done = nbconvert(catalog_dir / "handbook" / f"{name}.ipynb", tmp_path / f"{name}.out.ipynb")
        assert done.returncode == 0, done.stderr[-3000:]
