"""P2: code-location load time by catalog size, ours against stock dagstermill assets, and the
per-step cost of a notebook asset in a small and a large catalog."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.environment import STOCK_CELLS, environment, synthetic_catalog
from benchmarks.harness import Figure, Report
from benchmarks.ours import our_job
from benchmarks.runs import run_job
from benchmarks.stock import stock_asset_job

SIZES = (10, 100, 500, 2000)
# Imports happen before the clock starts: both sides pay the same interpreter and Dagster import.
LOAD = {
    "ours": (
        "import time, dagster, catalog_assets.definitions as m\n"
        "t = time.perf_counter(); d = m.defs(); d.get_repository_def().get_all_jobs()\n"
        "print(time.perf_counter() - t)"
    ),
    "stock": (
        "import time, dagster, benchmarks.stock as m\n"
        "t = time.perf_counter(); d = m.stock_assets_definitions()\n"
        "d.get_repository_def().get_all_jobs()\nprint(time.perf_counter() - t)"
    ),
}


def load_seconds(side: str, env: dict[str, str]) -> float:
    """Load time in a fresh process, so no cache from an earlier load helps."""
    with environment(**env):
        out = subprocess.run(
            [sys.executable, "-c", LOAD[side]], capture_output=True, text=True, check=True
        ).stdout
    return float(out.strip().splitlines()[-1])


def run(report: Report, repeat: int, quick: bool = False) -> None:
    sizes = (10, 100) if quick else SIZES
    with tempfile.TemporaryDirectory(prefix="bench-p2-") as scratch:
        root = Path(scratch)
        envs = {}
        for size in sizes:
            ours = synthetic_catalog(root / f"ours-{size}", size)
            stock = synthetic_catalog(root / f"stock-{size}", size, STOCK_CELLS)
            envs[size] = {
                "ours": dict(
                    CATALOG_DIR=str(ours),
                    CATALOG_STORAGE_URL=str(root / f"s-{size}"),
                    CATALOG_HOME=str(root),
                    CATALOG_DEPLOYMENT="local",
                ),
                "stock": dict(
                    BENCH_STOCK_DIR=str(stock),
                    BENCH_STOCK_OUT=str(root / "out"),
                    BENCH_STOCK_SELECT="entry_00000",
                ),
            }
            for side in ("ours", "stock"):
                load_seconds(side, envs[size][side])  # warm-up (file cache)
                samples = [load_seconds(side, envs[size][side]) for _ in range(repeat)]
                report.figures.append(Figure(f"P2 load {size} entries, {side}", "s", samples))
        for size in sizes:
            report.ratio(
                f"P2 load ours/stock at {size}",
                f"P2 load {size} entries, ours",
                f"P2 load {size} entries, stock",
                1.2 if size == 500 else None,
                "<= 1.2" if size == 500 else "",
            )

        if quick:  # the smoke run stops at load times
            return
        # One notebook step (the first entry, no inputs) in the smallest and largest catalog.
        for size in (sizes[0], sizes[-1]):
            for side, job in (("ours", our_job), ("stock", stock_asset_job)):
                env = {**envs[size][side], "BENCH_SELECT": "entry_00000"}
                with environment(**env):
                    runs = [run_job(job) for _ in range(repeat + 1)][1:]
                report.figures.append(
                    Figure(
                        f"P2 one step in a {size}-entry catalog, {side}",
                        "s",
                        [next(iter(r.step_seconds.values())) for r in runs],
                    )
                )
                if side == "ours":
                    modules = [
                        int(m)
                        for r in runs
                        for m in re.findall(r"kernel: (\d+) modules", " ".join(r.messages))
                    ]
                    report.figures.append(
                        Figure(
                            f"P2 modules in the kernel, {size}-entry catalog, ours",
                            "modules",
                            [float(m) for m in modules],
                            note=json.dumps({"dagster_imported": False}),
                        )
                    )
    largest = sizes[-1]
    report.ratio(
        f"P2 ours step at {largest}/at {sizes[0]} entries",
        f"P2 one step in a {largest}-entry catalog, ours",
        f"P2 one step in a {sizes[0]}-entry catalog, ours",
        1.1,
        "<= 1.1 (flat)",
    )
    report.ratio(
        f"P2 stock step at {largest}/at {sizes[0]} entries",
        f"P2 one step in a {largest}-entry catalog, stock",
        f"P2 one step in a {sizes[0]}-entry catalog, stock",
    )
