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

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_assets import checks, formats
from catalog_assets.catalog import (
    CatalogError,
    CheckSpec,
    Problem,
    default_catalog_dir,
    read_sources,
)
from catalog_assets.deployment import Deployment, resolve_deployment
from catalog_assets.storage import CatalogStore, open_backend, s3_options

__all__ = ["load", "output"]


class NotebookAPIError(RuntimeError):
    """A notebook used the API in a way that cannot work; the message says what to change."""


@dataclass
class _Run:
    """The state of one Dagster run step inside this kernel (set by the injected cell)."""

    spec: dict[str, Any]
    store: CatalogStore
    product: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


# The kernel runs one step at a time; the injected cell sets this, the teardown cell reads it.
_run: _Run | None = None


def load(name: str) -> Any:
    """The value of input ``name``: a catalog entry's product or a source's data."""
    if _run is not None:
        located = _run.spec["inputs"].get(name)
        if located is None:
            raise NotebookAPIError(
                f"{name!r} is not an input of {_run.spec['entry']}; add it to 'inputs' in "
                f"{_run.spec['metadata_path']}"
            )
        return _run.store.read(located["key"], located["format"])
    return _load_here(name, os.environ)


def output(value: Any, *, metrics: dict[str, float] | None = None) -> Any:
    """Hand back the notebook's product (and optional metrics); returns ``value`` unchanged."""
    clean_metrics = {str(k): float(v) for k, v in (metrics or {}).items()}
    if _run is None:
        return value
    if _run.product is not None:
        raise NotebookAPIError("catalog.output() was called twice; hand back one product per run")
    fmt = formats.format_for(value)
    key = _run.store.staging_key(_run.spec["entry"], _run.spec["run_id"], fmt)
    try:
        _run.store.write(key, value, fmt)
    except Exception as error:
        raise NotebookAPIError(
            f"cannot store the product of {_run.spec['entry']} as {fmt}: {error}"
        ) from error
    _run.product = {
        "staging_key": key,
        "format": fmt,
        "uri": _run.store.backend.uri(key),
        "size": _run.store.backend.size(key),
        **formats.describe(value),
    }
    _run.metrics = clean_metrics
    _run.outcomes = [
        checks.evaluate(CheckSpec.model_validate(spec), value, clean_metrics).to_json()
        for spec in _run.spec["checks"]
    ]
    return value


def _load_here(name: str, environ: os._Environ[str] | dict[str, str]) -> Any:
    deployment = resolve_deployment(environ)
    store = CatalogStore(open_backend(deployment.storage_url, s3_options(environ)), deployment)
    catalog_dir = default_catalog_dir(environ)
    problems: list[Problem] = []
    sources = read_sources(catalog_dir / "sources.yaml", problems)
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
    spec = json.loads(spec_json)
    deployment = Deployment(**spec["deployment"])
    store = CatalogStore(open_backend(deployment.storage_url, spec.get("s3")), deployment)
    _run = _Run(spec=spec, store=store)


def _finish() -> None:
    """Called by the teardown cell, which runs even when a cell failed: report to the step."""
    if _run is None:
        return
    manifest = {
        "product": _run.product,
        "metrics": _run.metrics,
        "checks": _run.outcomes,
        "kernel": {"dagster_imported": "dagster" in sys.modules, "modules": len(sys.modules)},
    }
    Path(_run.spec["manifest"]).write_text(json.dumps(manifest))
