"""P12: `catalog validate` on a 1,000-entry catalog (every file read and checked, every notebook's
code analysed), against Dagster validating the stock dagstermill code location built from the
same notebooks (which checks the definitions only). Wall time of the whole command, interpreter
start and imports included on both sides: what a scientist waits for."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.environment import STOCK_CELLS, environment, synthetic_catalog
from benchmarks.harness import Figure, Report

ENTRIES = 1000
COMMANDS = {
    "ours": [sys.executable, "-m", "catalog_assets.cli", "validate"],
    "stock": [
        sys.executable,
        "-c",
        "import dagster as dg, benchmarks.stock as s\n"
        "dg.Definitions.validate_loadable(s.stock_assets_definitions())",
    ],
}


def seconds(side: str, env: dict[str, str]) -> float:
    with environment(**env):
        started = time.perf_counter()
        subprocess.run(COMMANDS[side], capture_output=True, check=True)
        return time.perf_counter() - started


def run(report: Report, repeat: int, quick: bool = False) -> None:
    entries = 100 if quick else ENTRIES
    with tempfile.TemporaryDirectory(prefix="bench-p12-") as scratch:
        root = Path(scratch)
        envs = {
            "ours": {"CATALOG_DIR": str(synthetic_catalog(root / "ours", entries))},
            "stock": {
                "BENCH_STOCK_DIR": str(synthetic_catalog(root / "stock", entries, STOCK_CELLS)),
                "BENCH_STOCK_OUT": str(root / "out"),
            },
        }
        for side in ("ours", "stock"):
            seconds(side, envs[side])  # warm-up (file cache)
            samples = [seconds(side, envs[side]) for _ in range(repeat)]
            report.figures.append(Figure(f"P12 validate {entries} entries, {side}", "s", samples))
        report.ratio(
            "P12 validate ours/stock",
            f"P12 validate {entries} entries, ours",
            f"P12 validate {entries} entries, stock",
        )
