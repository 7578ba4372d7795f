"""P11: promotion against recompute, for the churn model and a 1,000,000-row dataset entry.

The sample catalog (small sample sources) plus an entry that builds a 1M-row frame is materialized
in production. Then, per repetition, both entries' code changes (a comment), a branch deployment
materializes them (the recompute, as the preview would), and production runs them: production
promotes the branch's versions (same code, same inputs). Step times come from each run's event
log; each run is its own process, as Dagster launches them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks.environment import environment, notebook
from benchmarks.harness import Figure, Report
from benchmarks.ours import our_job
from benchmarks.runs import run_job
from catalog_assets.sample_data import SampleConfig, write_sources
from tests.helpers import copy_sample_catalog

BIG = [
    "import numpy as np\nimport pandas as pd\nfrom catalog_assets import notebook as catalog",
    "rows = 1_000_000",
    "rng = np.random.default_rng(3)\n"
    "frame = pd.DataFrame({'member_id': np.arange(rows), 'score': rng.random(rows),\n"
    "    'visits': rng.integers(0, 100, rows), 'chain_id': rng.choice(['a', 'b', 'c'], rows)})\n"
    "frame['band'] = pd.cut(frame['score'], [0, .3, .6, 1], labels=['low', 'mid', 'high'],\n"
    "    include_lowest=True).astype(str)",
    "catalog.output(frame)",
]


def touch(path: Path, attempt: int) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "".join(code[-1]["source"])
    code[-1]["source"] = (
        f"# revision {attempt}\n" + source.split("\n", 1)[-1]
        if source.startswith("# revision")
        else f"# revision {attempt}\n{source}"
    )
    path.write_text(json.dumps(nb))


def step_seconds(entry: str, checkout_env: dict[str, str]) -> float:
    with environment(BENCH_SELECT=entry, **checkout_env):
        timing = run_job(our_job)
    return next(iter(timing.step_seconds.values()))


def run(report: Report, repeat: int, quick: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-p11-") as scratch:
        root = Path(scratch)
        catalog = root / "notebooks"
        copy_sample_catalog(catalog)  # without the data-usage terms: unpartitioned entries
        big = catalog / "features" / "big_table.ipynb"
        big.write_text(json.dumps(notebook(BIG)))
        (catalog / "features" / "big_table.yaml").write_text(
            "description: A 1M-row table.\nowner: team:bench\n"
        )
        storage = root / "storage"
        write_sources(str(storage), SampleConfig(members=1500))
        base = dict(
            CATALOG_DIR=str(catalog), CATALOG_STORAGE_URL=str(storage), CATALOG_HOME=str(root)
        )
        prod = {**base, "CATALOG_DEPLOYMENT": "prod"}
        branch = {**base, "CATALOG_DEPLOYMENT": "branch", "CATALOG_BRANCH": "bench/promote"}
        for entry in ("member_visit_features", "churn_model", "big_table"):
            step_seconds(entry, prod)
        figures: dict[str, list[float]] = {}
        entries = {"churn_model": catalog / "churn" / "churn_model.ipynb", "big_table": big}
        for attempt in range(repeat):
            for entry, path in entries.items():
                touch(path, attempt)
                figures.setdefault(f"P11 recompute {entry} (branch run)", []).append(
                    step_seconds(entry, branch)
                )
                figures.setdefault(f"P11 promote {entry} (production run)", []).append(
                    step_seconds(entry, prod)
                )
        promoted = json.loads((storage / "prod" / "refs" / "big_table.json").read_text())
        assert promoted["event"] == "promoted", promoted["event"]
        for name, samples in figures.items():
            report.figures.append(Figure(name, "s", samples))
    for entry in entries:
        report.ratio(
            f"P11 promote / recompute, {entry}",
            f"P11 promote {entry} (production run)",
            f"P11 recompute {entry} (branch run)",
            0.1,
            "<= 0.1 (promotion >= 10x faster)",
        )
