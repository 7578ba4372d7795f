"""The code location's executor: Dagster's multiprocess executor forking from a preloaded server."""

import dagster as dg


def catalog_executor(preload_s3: bool) -> dg.ExecutorDefinition:
    """Steps run in processes forked from a server that already imported Dagster, this code
    location and what a notebook step uses, instead of fresh interpreters importing all of it per
    step (BENCHMARKS.md, P6). ``preload_s3`` adds boto3, which only S3 storage needs."""
    preload = ["catalog_assets.definitions", "catalog_assets.orchestration.execution"]
    if preload_s3:
        preload.append("boto3")

    @dg.configured(
        dg.multiprocess_executor,
        config_schema={
            "max_concurrent": dg.Field(int, default_value=0, description="0: one per CPU")
        },
    )
    def catalog_executor(config: dict) -> dict:
        return {
            "max_concurrent": config["max_concurrent"],
            "start_method": {"forkserver": {"preload_modules": preload}},
        }

    return catalog_executor
