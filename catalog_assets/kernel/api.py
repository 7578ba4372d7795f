"""The notebook API: the calls a catalog notebook makes.

.. code-block:: python

    # first cell: imports
    from catalog_assets import notebook as catalog

    # a cell tagged `parameters`: runnable local defaults
    visits = catalog.load("visits")

    # ... the scientist's code ...

    # last cell: hand back the product (and, for models, their evaluation metrics)
    catalog.output(model, metrics={"roc_auc": auc})

In Jupyter, ``load`` reads the current version of an entry's product (or a source) as the current
deployment sees it, and ``output`` is a dry run: it converts the value as a run would, evaluates
the declared checks and prints what a run would store. In a Dagster run the step hands the kernel
the exact inputs it resolved (``load`` reads exactly those bytes and verifies them) and ``output``
writes the product once, to the staging file the step chose; the step verifies and stores it.

This module deliberately imports no Dagster: a kernel that imports Dagster pays seconds per step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_assets.errors import CatalogAssetsError, NotebookAPIError
from catalog_assets.kernel import usage
from catalog_assets.kernel.protocol import (
    CheckReport,
    KernelFacts,
    KernelReport,
    ProductReport,
    StepSpec,
)
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore

__all__ = ["NotebookAPIError", "load", "output", "path", "tenant"]


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


def _input(name: str, call: str) -> Any:
    """The input spec a run resolved for ``name``; refuses a name the entry does not declare."""
    assert _run is not None
    spec = _run.spec.inputs.get(name)
    if spec is None:
        declared = ", ".join(sorted(_run.spec.inputs)) or "none"
        raise NotebookAPIError(
            f"catalog.{call}({name!r}): {name!r} is not an input of {_run.spec.entry} (declared: "
            f"{declared}); add it to 'inputs' in {_run.spec.metadata_path}"
        )
    return spec


def load(name: str) -> Any:
    """The value of input ``name``: a catalog entry's product or a source's data."""
    if _run is None:
        from catalog_assets.kernel import jupyter

        return jupyter.load(name)
    spec = _input(name, "load")
    try:
        if spec.kind == "source":
            value = _run.store.read_source(
                spec.key, spec.version, spec.format, spec.read_options, name=name
            )
        else:
            policy = formats.LoadPolicy(spec.trusted_types, spec.allow_pickle)
            if spec.parts:
                value = usage.stack(
                    [
                        (p.tenant, _run.store.read_object(p.key, p.version, p.format, policy))
                        for p in spec.parts
                    ],
                    name,
                )
            else:
                value = _run.store.read_object(spec.key, spec.version, spec.format, policy)
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.load({name!r}): {error}") from None
    return usage.restrict(value, spec.usage, name, spec.kind == "source")


def tenant() -> str | None:
    """The tenant whose partition this run computes (None for an entry that is not per tenant).

    In Jupyter, the tenant ``CATALOG_TENANT`` names."""
    if _run is None:
        from catalog_assets.kernel import jupyter

        return jupyter.tenant()
    return _run.spec.tenant


def path(name: str) -> Path:
    """A local path holding source ``name``'s file, for formats ``catalog.load`` does not parse.

    The file is the version the run resolved (recorded with the product, like any input); on
    remote storage it is fetched once into a local cache.
    """
    if _run is None:
        from catalog_assets.kernel import jupyter

        return jupyter.path(name)
    spec = _input(name, "path")
    if spec.kind != "source":
        raise NotebookAPIError(
            f"catalog.path({name!r}): {name!r} is a catalog entry, not a source file; use "
            f"catalog.load({name!r})"
        )
    usage.refuse_path(spec.usage, name)
    try:
        return _run.store.source_path(spec.key, spec.version, Path(_run.spec.cache_dir))
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.path({name!r}): {error}") from None


def output(value: Any, *, metrics: dict[str, float] | None = None) -> Any:
    """Hand back the notebook's product (and optional metrics); returns ``value`` unchanged."""
    try:
        clean_metrics = {str(k): float(v) for k, v in (metrics or {}).items()}
    except (TypeError, ValueError) as error:
        raise NotebookAPIError(f"catalog.output: metrics must be numbers: {error}") from None
    if _run is None:
        from catalog_assets.kernel import jupyter

        return jupyter.dry_run(value, clean_metrics)
    if _run.product is not None:
        raise NotebookAPIError("catalog.output() was called twice; hand back one product per run")
    product = _run.spec.product
    usage.refuse_output(value, product.forbidden_columns, _run.spec.entry)
    try:
        fmt = formats.choose(value, product.declared_format)
        formats.write(
            value,
            fmt,
            Path(product.staging_path),
            formats.LoadPolicy(product.trusted_types, fmt.name == "pickle"),
        )
    except CatalogAssetsError as error:
        raise NotebookAPIError(
            f"catalog.output: {_run.spec.entry}: {error} ({_run.spec.metadata_path})"
        ) from None
    _run.product = ProductReport(format=fmt.name, facts=fmt.describe(value))
    _run.metrics = clean_metrics
    _run.outcomes = [
        CheckReport(**check.evaluate(value, clean_metrics).to_json()) for check in _run.spec.checks
    ]
    return value


def _begin(spec_path: str) -> None:
    """Called by the cell a run injects: read what the step resolved."""
    global _run
    from catalog_assets.settings import Settings

    spec = StepSpec.read(spec_path)
    deployment = Deployment(**spec.deployment.model_dump())
    # Credentials and endpoints come from the kernel's environment, never from the spec.
    s3 = Settings.s3_from_env()
    _run = _Run(spec=spec, store=CatalogStore.open(deployment, s3))


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
    Path(_run.spec.report_path).write_text(report.model_dump_json(), encoding="utf-8")
