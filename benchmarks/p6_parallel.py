"""P6: four independent notebook entries in one run, multiprocess executor against serial."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.environment import OUR_CELLS, environment, notebook
from benchmarks.harness import Figure, Report
from benchmarks.runs import run_job
from benchmarks.stock import our_job

# About a second of pandas work, so the figure is about notebooks, not only kernel start-up.
WORK = (
    "import numpy as np\n"
    "rng = np.random.default_rng(0)\n"
    "frame = pd.DataFrame({'k': rng.integers(0, 1000, 3_000_000), 'v': rng.random(3_000_000)})\n"
    "frame = frame.groupby('k', as_index=False)['v'].agg(['mean', 'std', 'max'])"
)


def run(report: Report, repeat: int, quick: bool = False) -> None:
    import json

    with tempfile.TemporaryDirectory(prefix="bench-p6-") as scratch:
        root = Path(scratch)
        cells = [OUR_CELLS[0], OUR_CELLS[1], WORK, OUR_CELLS[3]]
        for i in range(4):
            group = root / "catalog" / "parallel"
            group.mkdir(parents=True, exist_ok=True)
            (group / f"independent_{i}.ipynb").write_text(json.dumps(notebook(cells)))
            (group / f"independent_{i}.yaml").write_text(
                f"description: Independent entry {i}.\nowner: team:bench\n"
            )
        env = dict(
            CATALOG_DIR=str(root / "catalog"),
            CATALOG_STORAGE_URL=str(root / "storage"),
            CATALOG_HOME=str(root),
            CATALOG_DEPLOYMENT="local",
        )
        modes = {
            "P6 4 entries, multiprocess executor, per run": {},
            "P6 4 entries, one after another, per run": {
                "execution": {"config": {"in_process": {}}}
            },
        }
        with environment(**env):
            for name, config in modes.items():
                runs = [run_job(our_job, config) for _ in range(repeat + 1)][1:]
                report.figures.append(Figure(name, "s", [r.run_seconds for r in runs]))
    report.ratio(
        "P6 parallel/serial",
        "P6 4 entries, multiprocess executor, per run",
        "P6 4 entries, one after another, per run",
        0.6,
        "<= 0.6",
    )
