"""Run a reconstructable job as Dagster does, in its own process, on a temporary instance, and read
step times from its event log.

Each run gets a fresh process (like a run worker launched from the UI): multiprocessing's
forkserver, which our executor uses, lives as long as the process that started it and keeps that
moment's environment, so one process must not serve runs with different settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from benchmarks.environment import dagster_home, environment


@dataclass
class RunTiming:
    run_seconds: float
    step_seconds: dict[str, float]
    messages: list[str]


def run_job(
    job_fn: Callable[[], dg.JobDefinition],
    run_config: dict | None = None,
    checkout: Path | None = None,
) -> RunTiming:
    """Execute the job in a fresh process; the run's wall time is measured around execute_job.

    ``checkout``: run another checkout's code (an earlier commit's worktree) instead of this one:
    its directory goes first on the child's PYTHONPATH, which the notebook kernel inherits.
    """
    extra = {"PYTHONPATH": str(checkout)} if checkout else {}
    with dagster_home() as home, environment(DAGSTER_HOME=str(home), **extra):
        child = subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                "-m",
                "benchmarks.run_one",
                job_fn.__module__,
                job_fn.__name__,
                json.dumps(run_config or {}),
            ],
            capture_output=True,
            text=True,
            cwd=checkout,
        )
        if child.returncode != 0 or not child.stdout.strip():
            raise RuntimeError(
                f"benchmark run {child.args} failed ({child.returncode}):\n{child.stdout[-2000:]}\n"
                f"{child.stderr[-4000:]}"
            )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        with dg.DagsterInstance.get() as instance:
            logs = instance.all_logs(result["run_id"])
    starts, steps = {}, {}
    for event in logs:
        kind = event.dagster_event.event_type_value if event.dagster_event else None
        if kind == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif kind == "STEP_SUCCESS":
            steps[event.step_key] = event.timestamp - starts[event.step_key]
    return RunTiming(result["seconds"], steps, [e.message for e in logs if e.message])
