"""The code location: the notebook catalog as Dagster definitions (wiring only)."""

from __future__ import annotations

import gc

import dagster as dg

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.errors import DeploymentError
from catalog_assets.instance import checkout_problem, instance_problem
from catalog_assets.orchestration.assets import catalog_assets
from catalog_assets.orchestration.automation import entry_schedules, sensors, source_assets
from catalog_assets.orchestration.executor import catalog_executor
from catalog_assets.orchestration.io_manager import SOURCE_FORMAT, SOURCE_LOCATION, CatalogIOManager
from catalog_assets.orchestration.resources import CatalogStorage, NotebookRunner
from catalog_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    """Built when the code location loads, from the environment as it is then."""
    # Everything imported so far (Dagster itself) lives as long as the process: keep it out of the
    # collector's full passes, which otherwise rescan it every few hundred definitions built.
    gc.freeze()
    settings = Settings.from_env()
    if problem := instance_problem(settings, settings.dagster_home) or checkout_problem(settings):
        raise DeploymentError(problem)
    catalog = load_catalog(settings.catalog_dir, strict=settings.strict, limits=settings.limits)
    storage = CatalogStorage.for_deployment(settings.deployment, settings.s3)
    runner = NotebookRunner(
        executed_dir=str(settings.executed_dir),
        project_dir=str(settings.home),
        report_path=settings.preview_report,
        max_output_lines=settings.max_output_lines,
        max_output_mb=settings.max_output_mb,
    )
    return dg.Definitions(
        assets=[*source_assets(catalog, SOURCE_LOCATION, SOURCE_FORMAT), *catalog_assets(catalog)],
        schedules=entry_schedules(catalog, settings.deployment),
        sensors=sensors(catalog, settings.deployment, settings.refresh),
        executor=catalog_executor(settings.deployment.storage_url.startswith("s3://")),
        resources={
            "io_manager": CatalogIOManager(storage=storage),
            "catalog_storage": storage,
            "notebook_runner": runner,
        },
    )
