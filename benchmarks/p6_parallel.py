"""P6: four independent notebook entries in one run, multiprocess executor against serial."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks.environment import OUR_CELLS, environment, notebook
from benchmarks.harness import Figure, Report
from benchmarks.ours import our_job
from benchmarks.runs import run_job


def work(iterations: int) -> str:
    """A CPU-bound notebook cell: ``iterations`` steps of pure Python (40M take ~2.8 s here)."""
    return f"frame = pd.DataFrame({{'total': [sum(i % 7 for i in range({iterations}))]}})"


# Trivial notebooks measure the executor's own overhead; heavy ones (about 4 s of work per step on
# top of the kernel's start-up) show what a catalog of real notebooks gets from running in parallel.
WORKLOADS = {"trivial": 1_000, "heavy": 60_000_000}


MODES = {
    "our executor (forkserver)": ("", {}),
    "stock multiprocess executor (spawn)": ("spawn", {}),
    "one after another (in-process)": ("in_process", {}),
}


def run(report: Report, repeat: int, quick: bool = False) -> None:
    for workload, rows in WORKLOADS.items():
        with tempfile.TemporaryDirectory(prefix="bench-p6-") as scratch:
            root = Path(scratch)
            cells = [OUR_CELLS[0], OUR_CELLS[1], work(1_000 if quick else rows), OUR_CELLS[3]]
            group = root / "catalog" / "parallel"
            group.mkdir(parents=True)
            for i in range(4):
                (group / f"independent_{i}.ipynb").write_text(json.dumps(notebook(cells)))
                (group / f"independent_{i}.yaml").write_text(
                    f"description: Independent entry {i}.\nowner: team:bench\n"
                )
            env = dict(
                CATALOG_DIR=str(root / "catalog"),
                CATALOG_STORAGE_URL=str(root / "s"),
                CATALOG_HOME=str(root),
                CATALOG_DEPLOYMENT="local",
            )
            for mode, (executor, config) in MODES.items():
                with environment(**env, BENCH_EXECUTOR=executor):
                    runs = [run_job(our_job, config) for _ in range(repeat + 1)][1:]
                report.figures.append(
                    Figure(
                        f"P6 4 {workload} entries, {mode}, per run",
                        "s",
                        [r.run_seconds for r in runs],
                    )
                )
        serial = f"P6 4 {workload} entries, one after another (in-process), per run"
        target = workload == "heavy"
        report.ratio(
            f"P6 {workload}: our executor/serial",
            f"P6 4 {workload} entries, our executor (forkserver), per run",
            serial,
            0.6 if target else None,
            "<= 0.6" if target else "",
        )
        report.ratio(
            f"P6 {workload}: stock spawn executor/serial",
            f"P6 4 {workload} entries, stock multiprocess executor (spawn), per run",
            serial,
        )
