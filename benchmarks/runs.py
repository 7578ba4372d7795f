"""Run a reconstructable job on a temporary instance and read step times from its event log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from benchmarks.environment import dagster_home, environment


@dataclass
class RunTiming:
    run_seconds: float
    step_seconds: dict[str, float]
    messages: list[str]


def run_job(job_fn: Callable[[], dg.JobDefinition], run_config: dict | None = None) -> RunTiming:
    """Execute the job as Dagster does from the UI: reconstructable, default executor."""
    with dagster_home() as home, environment(DAGSTER_HOME=str(home)):
        with dg.DagsterInstance.get() as instance:
            started = time.perf_counter()
            with dg.execute_job(
                dg.reconstructable(job_fn), instance=instance, run_config=run_config or {}
            ) as result:
                elapsed = time.perf_counter() - started
                if not result.success:
                    raise RuntimeError(f"benchmark run {result.run_id} failed")
                logs = instance.all_logs(result.run_id)
    starts, steps = {}, {}
    for event in logs:
        kind = event.dagster_event.event_type_value if event.dagster_event else None
        if kind == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif kind == "STEP_SUCCESS":
            steps[event.step_key] = event.timestamp - starts[event.step_key]
    return RunTiming(elapsed, steps, [e.message for e in logs if e.message])
