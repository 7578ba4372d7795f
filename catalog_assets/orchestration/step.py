"""The step of a catalog asset: resolve inputs, run the notebook in a kernel, hand back the product.

The step resolves every input to a stored object (a branch falls back to production), runs the
notebook with those inputs injected in place of the ``parameters`` cell, and yields the product the
kernel staged, plus the kernel-evaluated check results. The executed notebook is kept for every
run, failed ones too.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from catalog_assets.catalog.discovery import Entry
from catalog_assets.kernel.protocol import (
    DeploymentSpec,
    InputSpec,
    KernelReport,
    StepSpec,
)
from catalog_assets.orchestration.io_manager import frame_metadata, locate_input
from catalog_assets.orchestration.resources import CatalogStorage, NotebookRunner
from catalog_assets.storage.local import LocalBackend
from catalog_assets.storage.store import EXECUTED, CatalogStore, Located, Staged


def materialize_entry(
    context: dg.AssetExecutionContext, entry: Entry, input_metadata: dict[str, dict | None]
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    storage: CatalogStorage = context.resources.catalog_storage
    store = storage.get_store()
    inputs = {
        name: locate_input(store, dg.AssetKey(name), metadata)
        for name, metadata in input_metadata.items()
    }
    for name, located in inputs.items():
        context.log.info(f"input {name}: {located.area} copy at {store.backend.uri(located.key)}")
    yield from _run_entry(
        context,
        entry,
        store,
        storage.kernel_s3_options(),
        inputs,
        context.resources.notebook_runner,
    )


def _run_entry(
    context: dg.AssetExecutionContext,
    entry: Entry,
    store: CatalogStore,
    s3_options: dict[str, str],
    inputs: dict[str, Located],
    runner: NotebookRunner,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    # Imported in the step, not at code-location load: papermill and nbformat cost 0.4 s to import
    # (the executor's forkserver preloads them once per run).
    from catalog_assets.orchestration.execution import NotebookFailed, run_notebook

    executed = runner.executed_path(context.run.run_id, entry.name)
    notebook_link = dg.MetadataValue.notebook(str(executed))
    with tempfile.TemporaryDirectory(prefix="catalog-step-") as scratch:
        manifest_path = Path(scratch) / "manifest.json"
        spec = StepSpec(
            entry=entry.name,
            run_id=context.run.run_id,
            metadata_path=str(entry.metadata_path),
            deployment=DeploymentSpec(
                kind=store.deployment.kind,
                storage_url=store.deployment.storage_url,
                branch=store.deployment.branch,
                slug=store.deployment.slug,
            ),
            s3=s3_options,
            inputs={
                name: InputSpec(key=located.key, format=located.format, area=located.area)
                for name, located in inputs.items()
            },
            checks=list(entry.metadata.checks),
            manifest=str(manifest_path),
        )
        try:
            run_notebook(entry.notebook_path, _injected_cell(spec), executed, context.log.warning)
        except NotebookFailed as failure:
            _discard_staged(store, manifest_path)
            context.log_event(
                dg.AssetObservation(
                    asset_key=entry.name,
                    metadata={
                        "executed_notebook": notebook_link,
                        **_keep_executed(store, executed, context.run.run_id, entry.name),
                        "error": str(failure),
                    },
                )
            )
            raise dg.Failure(
                description=(
                    f"{entry.notebook_path}: {failure}. The previous value is kept. The executed "
                    f"notebook, with the traceback, is at {executed}"
                ),
                metadata={"executed_notebook": notebook_link},
            ) from None
        except BaseException:
            _discard_staged(store, manifest_path)
            raise
        manifest = _read_manifest(manifest_path, entry)

    product = manifest.product
    if product is None:
        raise dg.Failure(
            description=(
                f"{entry.notebook_path}: the notebook ran but never handed back its product; "
                f"end it with catalog.output(value). Executed notebook: {executed}"
            ),
            metadata={"executed_notebook": notebook_link},
        )
    kernel = manifest.kernel
    context.log.debug(
        f"kernel: {kernel.modules} modules imported, dagster imported: {kernel.dagster_imported}"
    )
    if kernel.dagster_imported:
        context.log.warning(
            f"{entry.notebook_path} imports dagster in the kernel, which adds seconds to every "
            "run; use the catalog_assets.notebook API instead"
        )
    metadata: dict[str, Any] = {
        **frame_metadata(product.model_dump(exclude_none=True)),
        **{f"metric/{name}": value for name, value in manifest.metrics.items()},
        "executed_notebook": notebook_link,
        **_keep_executed(store, executed, context.run.run_id, entry.name),
        "inputs": {
            name: {"deployment": located.area, "uri": store.backend.uri(located.key)}
            for name, located in inputs.items()
        },
    }
    try:
        yield dg.Output(
            Staged(product.staging_key, product.format),
            output_name=entry.name,
            metadata=metadata,
        )
    finally:
        # Committed by the IO manager (renamed away) unless storing failed: never leave a stray.
        store.discard(product.staging_key)
    for outcome in manifest.checks:
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            passed=outcome.passed,
            description=outcome.message,
            metadata=outcome.metadata,
        )


def _injected_cell(spec: StepSpec) -> str:
    lines = [
        f"# Injected by catalog_assets for run {spec.run_id} (replaces the `parameters` cell)",
        "import catalog_assets.kernel.api as __catalog_run",
        f"__catalog_run._begin({spec.model_dump_json()!r})",
        *(f"{name} = __catalog_run.load({name!r})" for name in spec.inputs),
    ]
    return "\n".join(lines) + "\n"


def _read_manifest(path: Path, entry: Entry) -> KernelReport:
    try:
        return KernelReport.model_validate_json(path.read_text())
    except (OSError, ValueError) as error:
        raise dg.Failure(
            f"{entry.notebook_path}: the kernel ended without reporting back ({error}); "
            "did the notebook exit the kernel or restart it?"
        ) from None


def _keep_executed(store: CatalogStore, executed: Path, run_id: str, entry: str) -> dict[str, Any]:
    """On remote storage, also keep the executed notebook there: a run worker's disk (an ECS task)
    does not outlive the run. Locally the file under the project is the copy the UI opens."""
    if isinstance(store.backend, LocalBackend) or not executed.exists():
        return {}
    key = f"{store.deployment.prefix}/{EXECUTED}/{run_id}/{entry}.ipynb"
    store.keep_file(executed, key)
    return {"executed_notebook_uri": dg.MetadataValue.url(store.backend.uri(key))}


def _discard_staged(store: CatalogStore, manifest_path: Path) -> None:
    if manifest_path.exists():
        product = KernelReport.model_validate_json(manifest_path.read_text()).product
        if product:
            store.discard(product.staging_key)
