"""The code location: the notebook catalog as Dagster definitions (wiring only)."""

from __future__ import annotations

import gc
import os

import dagster as dg

from catalog_assets.automation import entry_schedules
from catalog_assets.catalog import default_catalog_dir, load_catalog
from catalog_assets.deployment import project_home, resolve_deployment
from catalog_assets.factory import NotebookRunner, entry_asset, source_asset
from catalog_assets.io_managers import CatalogIOManager, CatalogStorage
from catalog_assets.storage import s3_options


@dg.configured(
    dg.multiprocess_executor,
    config_schema={"max_concurrent": dg.Field(int, default_value=0, description="0: one per CPU")},
)
def catalog_executor(config: dict) -> dict:
    """Steps run in processes forked from a server that already imported Dagster, this code
    location and what a notebook step uses, instead of fresh interpreters importing all of it per
    step (BENCHMARKS.md, P6)."""
    preload = ["catalog_assets.definitions", "catalog_assets.execution"]
    if os.environ.get("CATALOG_STORAGE_URL", "").startswith("s3://"):
        preload.append("dagster_aws.s3")
    return {
        "max_concurrent": config["max_concurrent"],
        "start_method": {"forkserver": {"preload_modules": preload}},
    }


@dg.definitions
def defs() -> dg.Definitions:
    """Built when the code location loads, from the environment as it is then."""
    # Everything imported so far (Dagster itself) lives as long as the process: keep it out of the
    # collector's full passes, which otherwise rescan it every few hundred definitions built.
    gc.freeze()
    environ = dict(os.environ)
    deployment = resolve_deployment(environ)
    catalog = load_catalog(default_catalog_dir(environ))
    storage = CatalogStorage.for_deployment(deployment, s3_options(environ))
    executed_dir = project_home(environ) / ".catalog" / "executed"
    return dg.Definitions(
        assets=[
            *(source_asset(source) for source in catalog.sources.values()),
            *(entry_asset(entry, catalog) for entry in catalog.entries.values()),
        ],
        schedules=entry_schedules(catalog, deployment),
        executor=catalog_executor,
        resources={
            "io_manager": CatalogIOManager(storage=storage),
            "catalog_storage": storage,
            "notebook_runner": NotebookRunner(executed_dir=str(executed_dir)),
        },
    )
