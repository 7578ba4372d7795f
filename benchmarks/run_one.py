"""``python -m benchmarks.run_one MODULE FUNCTION RUN_CONFIG``: execute one job, print its run id
and wall time as JSON.

Deliberately tiny: step processes forked by multiprocessing re-import the parent's main module, so
it imports nothing a Dagster run worker would not.
"""

import importlib
import json
import sys
import time

import dagster as dg


def main(module: str, name: str, run_config: str) -> None:
    job_fn = getattr(importlib.import_module(module), name)
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        with dg.execute_job(
            dg.reconstructable(job_fn), instance=instance, run_config=json.loads(run_config)
        ) as result:
            seconds = time.perf_counter() - started
            if not result.success:
                sys.exit(f"run {result.run_id} failed")
            print(json.dumps({"run_id": result.run_id, "seconds": seconds}))  # noqa: T201


if __name__ == "__main__":
    main(*sys.argv[1:4])
