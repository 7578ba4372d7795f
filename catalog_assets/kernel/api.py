"""The notebook API: the two calls a catalog notebook makes.

.. code-block:: python

    # first cell: imports
    from catalog_assets import notebook as catalog

    # second cell, tagged `parameters`: runnable local defaults, replaced in a run
    visits = catalog.load("visits")

    # ... the scientist's code ...

    # last cell: hand back the product (and, for models, their evaluation metrics)
    catalog.output(model, metrics={"roc_auc": auc})

In Jupyter, ``load`` reads the product (or source) from the storage of the current deployment
(``local`` unless ``CATALOG_BRANCH``/``CATALOG_DEPLOYMENT`` say otherwise; a branch falls back to
production) and ``output`` simply returns its value. In a Dagster run the parameters cell is
replaced by one that points ``load`` at the exact inputs the run resolved, and ``output`` writes the
product once, to a staging object that the IO manager commits when the run step succeeds. Declared
checks are evaluated here, on the value in memory.

This module deliberately imports no Dagster: a kernel that imports Dagster pays seconds per step.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_assets.catalog.discovery import SOURCES_FILE, read_sources
from catalog_assets.catalog.problems import CatalogError, Problem
from catalog_assets.errors import NotebookAPIError
from catalog_assets.kernel.protocol import (
    CheckReport,
    KernelFacts,
    KernelReport,
    ProductReport,
    StepSpec,
)
from catalog_assets.settings import Deployment, Settings
from catalog_assets.storage import formats
from catalog_assets.storage.backends import open_backend
from catalog_assets.storage.store import CatalogStore

__all__ = ["NotebookAPIError", "load", "output"]


@dataclass
class _Run:
    """The state of one Dagster run step inside this kernel (set by the injected cell)."""

    spec: StepSpec
    store: CatalogStore
    product: ProductReport | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    outcomes: list[CheckReport] = field(default_factory=list)


# The kernel runs one step at a time; the injected cell sets this, the teardown cell reads it.
_run: _Run | None = None


def load(name: str) -> Any:
    """The value of input ``name``: a catalog entry's product or a source's data."""
    if _run is not None:
        located = _run.spec.inputs.get(name)
        if located is None:
            raise NotebookAPIError(
                f"{name!r} is not an input of {_run.spec.entry}; add it to 'inputs' in "
                f"{_run.spec.metadata_path}"
            )
        return _run.store.read(located.key, located.format)
    return _load_here(name, os.environ)


def output(value: Any, *, metrics: dict[str, float] | None = None) -> Any:
    """Hand back the notebook's product (and optional metrics); returns ``value`` unchanged."""
    clean_metrics = {str(k): float(v) for k, v in (metrics or {}).items()}
    if _run is None:
        return value
    if _run.product is not None:
        raise NotebookAPIError("catalog.output() was called twice; hand back one product per run")
    fmt = formats.format_for(value)
    key = _run.store.staging_key(_run.spec.entry, _run.spec.run_id, fmt)
    try:
        _run.store.write(key, value, fmt)
    except Exception as error:
        raise NotebookAPIError(
            f"cannot store the product of {_run.spec.entry} as {fmt}: {error}"
        ) from error
    _run.product = ProductReport(
        staging_key=key,
        format=fmt,
        uri=_run.store.backend.uri(key),
        size=_run.store.backend.size(key),
        **formats.describe(value),
    )
    _run.metrics = clean_metrics
    _run.outcomes = [
        CheckReport(**check.evaluate(value, clean_metrics).to_json()) for check in _run.spec.checks
    ]
    return value


def _load_here(name: str, environ: os._Environ[str] | dict[str, str]) -> Any:
    settings = Settings.from_env(environ)
    deployment = settings.deployment
    store = CatalogStore(open_backend(deployment.storage_url, settings.s3), deployment)
    problems: list[Problem] = []
    sources = read_sources(settings.catalog_dir / SOURCES_FILE, problems)
    if problems:
        raise CatalogError(problems)
    if name in sources:
        source = sources[name]
        return store.read(store.source_key(source.location), source.format)
    located = store.locate(name)
    if located is None:
        raise NotebookAPIError(
            f"no stored product {name!r} for the {deployment.label} deployment under "
            f"{deployment.storage_url}; materialize it once (e.g. `dagster asset materialize "
            f"-m catalog_assets.definitions --select {name}`)"
        )
    return store.read(located.key, located.format)


def _begin(spec_json: str) -> None:
    """Called by the injected parameters cell of a run."""
    global _run
    spec = StepSpec.model_validate_json(spec_json)
    deployment = Deployment(**spec.deployment.model_dump())
    store = CatalogStore(open_backend(deployment.storage_url, spec.s3), deployment)
    _run = _Run(spec=spec, store=store)


def _finish() -> None:
    """Called by the teardown cell, which runs even when a cell failed: report to the step."""
    if _run is None:
        return
    report = KernelReport(
        product=_run.product,
        metrics=_run.metrics,
        checks=_run.outcomes,
        kernel=KernelFacts(dagster_imported="dagster" in sys.modules, modules=len(sys.modules)),
    )
    Path(_run.spec.manifest).write_text(report.model_dump_json())
