"""P7: the cost of versioned storage (immutable objects, refs, provenance, SHA-256 checks).

Measured against the code before it, in the same run: an earlier commit is checked out into a
temporary git worktree, and each measurement runs that checkout's own code (first on the child's
PYTHONPATH, which the notebook kernel inherits) and then this checkout's. Figures: store + load of
the P3 1,000,000 x 10 frame through the IO manager, locally and on the S3 server, and one notebook
step (the P1 notebook).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.environment import environment, s3_server, synthetic_catalog
from benchmarks.harness import Figure, Report
from benchmarks.ours import our_job
from benchmarks.runs import run_job

HERE = Path(__file__).resolve().parent.parent
#: The last commit before versioned storage: mutable files per area, renamed into place.
BEFORE = "2e96fc4"
ROWS = 1_000_000


@contextlib.contextmanager
def worktree(commit: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-before-") as scratch:
        target = Path(scratch) / "checkout"
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "add", "--detach", str(target), commit],
            check=True,
            capture_output=True,
        )
        try:
            yield target
        finally:
            subprocess.run(
                ["git", "-C", str(HERE), "worktree", "remove", "--force", str(target)],
                capture_output=True,
            )


def store_and_load(checkout: Path, variant: str, target: str, endpoint: str, rows: int) -> float:
    """One store + load through that checkout's IO manager, in a fresh process (its P3 child)."""
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "benchmarks.p3_child",
            variant,
            target,
            endpoint,
            str(rows),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
        env={**__import__("os").environ, "PYTHONPATH": str(checkout)},
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["store"] + result["load"]


def run(report: Report, repeat: int, quick: bool = False) -> None:
    rows = 50_000 if quick else ROWS
    with (
        worktree(BEFORE) as before,
        tempfile.TemporaryDirectory(prefix="bench-p7-") as scratch,
        s3_server() as endpoint,
    ):
        root = Path(scratch)
        sides = {"before": before, "after": HERE}
        for side, checkout in sides.items():
            for variant, label in (("ours_local", "local"), ("ours_s3", "S3 server")):
                samples = []
                for attempt in range(repeat + 1):
                    target = (
                        f"s3://bench/p7-{side}-{attempt}"
                        if variant == "ours_s3"
                        else str(root / f"{side}-{variant}-{attempt}")
                    )
                    samples.append(store_and_load(checkout, variant, target, endpoint, rows))
                report.figures.append(
                    Figure(f"P7 store+load 1M x 10, {label}, {side}", "s", samples[1:])
                )
            catalog = synthetic_catalog(root / f"{side}-catalog", 1)
            with environment(
                CATALOG_DIR=str(catalog),
                CATALOG_STORAGE_URL=str(root / f"{side}-storage"),
                CATALOG_HOME=str(root),
                CATALOG_DEPLOYMENT="local",
            ):
                timings = [run_job(our_job, checkout=checkout) for _ in range(repeat + 1)][1:]
            steps = [next(iter(t.step_seconds.values())) for t in timings]
            report.figures.append(Figure(f"P7 one notebook step, {side}", "s", steps))
        for what in (
            "store+load 1M x 10, local",
            "store+load 1M x 10, S3 server",
            "one notebook step",
        ):
            report.ratio(f"P7 {what}: after/before", f"P7 {what}, after", f"P7 {what}, before")
