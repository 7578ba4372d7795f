"""Our job for the benchmarks, in its own module: a forked step process rebuilds the job from
here, and must import nothing the product itself would not (benchmarks/stock.py imports the stock
dagstermill factories)."""

from __future__ import annotations

import os

import dagster as dg


def our_job() -> dg.JobDefinition:
    """Our assets (all, or ``BENCH_SELECT``) from the environment (``CATALOG_DIR`` etc.), run by
    our executor, or by ``BENCH_EXECUTOR``: ``in_process`` (serial) or ``spawn`` (Dagster's
    stock multiprocess executor)."""
    from catalog_assets.definitions import defs

    selection = os.environ.get("BENCH_SELECT")
    executor = {
        "in_process": dg.in_process_executor,
        "spawn": dg.multiprocess_executor,
    }.get(os.environ.get("BENCH_EXECUTOR", ""))
    job = dg.define_asset_job(
        "catalog_job",
        selection=[selection] if selection else dg.AssetSelection.all(),
        executor_def=executor,
    )
    return dg.Definitions.merge(defs(), dg.Definitions(jobs=[job])).resolve_job_def("catalog_job")
