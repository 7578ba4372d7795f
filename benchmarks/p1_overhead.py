"""P1: the same small notebook as bare papermill, a stock dagstermill asset, and our asset."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import papermill

from benchmarks.environment import (
    STOCK_CELLS,
    environment,
    synthetic_catalog,
    write_notebook,
)
from benchmarks.harness import Figure, Report, measure
from benchmarks.ours import our_job
from benchmarks.runs import run_job
from benchmarks.stock import stock_asset_job


def run(report: Report, repeat: int, quick: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-p1-") as scratch:
        root = Path(scratch)
        bare = write_notebook(root / "bare" / "trivial.ipynb", STOCK_CELLS)

        def papermill_run() -> float:
            started = time.perf_counter()
            papermill.execute_notebook(
                str(bare), str(root / "bare-out.ipynb"), kernel_name="python3", progress_bar=False
            )
            return time.perf_counter() - started

        report.figures.append(measure("P1a bare papermill, per step", "s", papermill_run, repeat))

        write_notebook(root / "stock" / "bench" / "trivial.ipynb", STOCK_CELLS)
        stock_env = dict(
            BENCH_STOCK_DIR=str(root / "stock"),
            BENCH_STOCK_OUT=str(root / "out"),
            BENCH_STOCK_SELECT="trivial",
        )
        ours_dir = synthetic_catalog(root / "ours", 1)
        ours_env = dict(
            CATALOG_DIR=str(ours_dir),
            CATALOG_STORAGE_URL=str(root / "storage"),
            CATALOG_HOME=str(root),
            CATALOG_DEPLOYMENT="local",
        )
        for label, env, job in (
            ("b stock define_dagstermill_asset", stock_env, stock_asset_job),
            ("c catalog_assets asset", ours_env, our_job),
        ):
            with environment(**env):
                timings = [run_job(job) for _ in range(repeat + 1)][1:]  # first: warm-up
            steps = [next(iter(t.step_seconds.values())) for t in timings]
            report.figures.append(Figure(f"P1{label}, per step", "s", steps))
            report.figures.append(
                Figure(f"P1{label}, per run", "s", [t.run_seconds for t in timings])
            )

    report.ratio(
        "P1 ours/stock per step",
        "P1c catalog_assets asset, per step",
        "P1b stock define_dagstermill_asset, per step",
        0.7,
        "<= 0.7",
    )
    report.ratio(
        "P1 ours/bare papermill per step",
        "P1c catalog_assets asset, per step",
        "P1a bare papermill, per step",
        1.5,
        "<= 1.5",
    )
    report.ratio(
        "P1 ours/stock per run",
        "P1c catalog_assets asset, per run",
        "P1b stock define_dagstermill_asset, per run",
    )
