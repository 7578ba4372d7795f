"""P9: `catalog preview` of a branch changing one leaf, against materializing the whole catalog.

A 50-entry synthetic catalog (5 chains of 10; each entry does about a second of pandas work on a
frame it takes from the previous one) in a temporary git repository is materialized in production
with `dagster asset materialize --select '*'` (the whole catalog's wall time). A branch then
changes one leaf's code, and `catalog preview` runs as a user runs it: merge, classify, materialize
what changed, write the report. Its wall time includes all of that.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.environment import notebook
from benchmarks.harness import Figure, Report

CHAINS, LENGTH = 5, 10
GIT = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
WORK = (
    "import numpy as np\n"
    "rng = np.random.default_rng(7)\n"
    "frame = base.copy() if base is not None else pd.DataFrame({'x': rng.random(20_000)})\n"
    "for step in range(STEPS):\n"
    "    frame['x'] = (frame['x'] * 1.0001 + rng.random(len(frame))).rank(pct=True)\n"
    "frame['step'] = STEPS"
)


def catalog(root: Path, steps: int) -> None:
    """``CHAINS`` chains of ``LENGTH`` entries, each taking the previous of its chain."""
    for chain in range(CHAINS):
        group = root / "notebooks" / f"chain_{chain}"
        group.mkdir(parents=True)
        for index in range(LENGTH):
            name = f"c{chain}_e{index:02d}"
            upstream = f"c{chain}_e{index - 1:02d}" if index else None
            load = f"base = catalog.load({upstream!r})" if upstream else "base = None"
            cells = [
                "import pandas as pd\nfrom catalog_assets import notebook as catalog",
                f"STEPS = {steps}\n{load}",
                WORK,
                "catalog.output(frame)",
            ]
            (group / f"{name}.ipynb").write_text(json.dumps(notebook(cells)))
            inputs = f"inputs: [{upstream}]\n" if upstream else ""
            (group / f"{name}.yaml").write_text(
                f"description: Synthetic entry {name}.\nowner: team:bench\n{inputs}"
            )


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *GIT, *args], check=True, capture_output=True)


def run(report: Report, repeat: int, quick: bool = False) -> None:
    steps = 5 if quick else 120
    with tempfile.TemporaryDirectory(prefix="bench-p9-") as scratch:
        repo = Path(scratch)
        catalog(repo, steps)
        (repo / "notebooks" / "sources.yaml").write_text("sources: []\n")
        (repo / ".gitignore").write_text(".catalog/\n")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", "catalog")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CATALOG_", "DAGSTER_CLOUD_")) and k != "DAGSTER_HOME"
        }
        env.update(CATALOG_HOME=str(repo), CATALOG_DIR=str(repo / "notebooks"))
        prod = {**env, "CATALOG_DEPLOYMENT": "prod"}
        home = subprocess.run(
            [sys.executable, "-m", "catalog_assets.cli", "instance"],
            env=prod,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                "-m",
                "dagster",
                "asset",
                "materialize",
                "-m",
                "catalog_assets.definitions",
                "--select",
                "*",
            ],
            env={**prod, "DAGSTER_HOME": home},
            cwd=repo,
            check=True,
            capture_output=True,
        )
        full = time.perf_counter() - started
        report.figures.append(Figure("P9 materialize the whole 50-entry catalog", "s", [full]))

        leaf = repo / "notebooks" / "chain_0" / f"c0_e{LENGTH - 1:02d}.ipynb"
        previews, materialized = [], []
        for attempt in range(repeat):
            branch = f"bench/leaf-{attempt}"
            git(repo, "checkout", "-q", "-b", branch, "main")
            nb = json.loads(leaf.read_text())
            nb["cells"][2]["source"] += f"\nframe['attempt'] = {attempt}"
            leaf.write_text(json.dumps(nb))
            git(repo, "commit", "-qam", "leaf change")
            git(repo, "checkout", "-q", "main")
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-W", "ignore", "-m", "catalog_assets.cli", "preview", branch],
                env=env,
                cwd=repo,
                capture_output=True,
                text=True,
            )
            previews.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
            counts = re.search(r"preview: (\d+) to materialize", done.stdout)
            materialized.append(int(counts[1]))
        report.figures.append(Figure("P9 catalog preview of a one-leaf change", "s", previews))
        report.figures.append(
            Figure(
                "P9 entries materialized by the preview",
                "entries",
                [float(m) for m in materialized],
            )
        )
    report.ratio(
        "P9 preview / whole catalog",
        "P9 catalog preview of a one-leaf change",
        "P9 materialize the whole 50-entry catalog",
        0.1,
        "<= 0.1",
    )
