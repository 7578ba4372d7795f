"""The step of a catalog asset: resolve inputs, run the notebook in a kernel, hand back the product.

The step resolves every input to an exact version (a source's ETag or stat, an entry's ref: the
branch's own, else production's), writes what it resolved to a spec file the injected cell names,
and runs the notebook. The kernel writes its product to the staging file the step chose; the step
moves it out of the kernel's reach, hashes it itself, and yields it with a ref carrying the
provenance, for the IO manager to store and publish. Nothing the kernel reports can redirect a
write. The executed notebook is kept for every run, failed ones too.
"""

from __future__ import annotations

import base64
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from catalog_assets.catalog.discovery import Entry
from catalog_assets.catalog.fingerprint import Versions
from catalog_assets.catalog.schema import SourceSpec
from catalog_assets.catalog.terms import Governance, run_label, slots
from catalog_assets.errors import redact
from catalog_assets.kernel.protocol import (
    DeploymentSpec,
    InputSpec,
    KernelReport,
    PartSpec,
    ProductSpec,
    StepSpec,
    UsageSpec,
)
from catalog_assets.orchestration.metadata import product_metadata
from catalog_assets.orchestration.resources import CatalogStorage, NotebookRunner
from catalog_assets.settings import PROD_AREA, Deployment, kernel_environment, secret_values
from catalog_assets.storage import formats
from catalog_assets.storage.backend import sha256_file
from catalog_assets.storage.promotion import find_promotable, promoted_ref
from catalog_assets.storage.refs import CheckResult, InputVersion, Ref
from catalog_assets.storage.store import CatalogStore, Promoted, Staged

DEPLOYMENT_TAG = "catalog/deployment"
BRANCH_TAG = "catalog/branch"
AREA_TAG = "catalog/area"
_PREVIEW_LIMIT = 512 * 1024


@dataclass(frozen=True)
class StepPlan:
    """What the step of one entry needs from the catalog, fixed when definitions are built."""

    entry: Entry
    versions: Versions
    #: Inputs that are sources, with their declaration.
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    #: Inputs that are entries, with what loading their product may construct.
    policies: dict[str, formats.LoadPolicy] = field(default_factory=dict)
    #: What loading this entry's own product may construct.
    own_policy: formats.LoadPolicy = field(default_factory=formats.LoadPolicy)
    #: The governance of each input that is an entry (whether it is per tenant, its partitions).
    upstream: dict[str, Governance | None] = field(default_factory=dict)


def run_tags(deployment: Deployment) -> dict[str, str]:
    """The tags every run of a deployment carries."""
    return {
        DEPLOYMENT_TAG: deployment.kind,
        BRANCH_TAG: deployment.branch or "",
        AREA_TAG: deployment.area,
    }


def refresh_metadata(context: dg.AssetExecutionContext, entry: str) -> dict[str, Any]:
    """Why a sensor or schedule refreshed this entry, from the run's tags, for the operator."""
    trigger = context.run.tags.get("catalog/refresh")
    if not trigger:
        return {}
    try:
        reasons = json.loads(context.run.tags.get("catalog/stale_reasons", "{}"))
    except ValueError:
        reasons = {}
    return {"catalog/refresh": f"{trigger}: {reasons.get(entry, 'requested with its upstream')}"}


def _tag_run(context: dg.AssetExecutionContext, deployment: Deployment) -> None:
    tags = run_tags(deployment)
    missing = {k: v for k, v in tags.items() if context.run.tags.get(k) != v}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


def _usage_spec(plan: StepPlan, name: str, tenant: str | None) -> UsageSpec:
    governance = plan.entry.governance
    if governance is None:
        return UsageSpec()
    rule = governance.usage(name, tenant)
    return UsageSpec(tenant_column=rule.tenant_column, tenants=rule.tenants, drop=rule.drop)


def resolve_inputs(
    store: CatalogStore, plan: StepPlan, tenant: str | None = None
) -> tuple[dict[str, InputSpec], dict[str, InputVersion]]:
    """Each input's exact version, as this deployment reads it (for ``tenant``'s partition).

    Raises:
        dg.Failure: an input has no data yet, saying what to run or load.
    """
    specs: dict[str, InputSpec] = {}
    versions: dict[str, InputVersion] = {}
    for name in plan.entry.metadata.inputs:
        if name in plan.sources:
            source = plan.sources[name]
            key = store.source_key(source.location)
            info = store.backend.stat(key)
            if info is None:
                raise dg.Failure(
                    f"source {name!r} has no data at {store.backend.uri(key)}; load the "
                    "provider's file there (for the sample catalog: `catalog sample-data`)"
                )
            specs[name] = InputSpec(
                kind="source",
                area="sources",
                key=key,
                version=info.version,
                format=source.format,
                read_options=source.read.model_dump(exclude_none=True) if source.read else {},
                usage=_usage_spec(plan, name, tenant),
            )
            versions[name] = InputVersion(
                kind="source", area="sources", key=key, version=info.version
            )
            continue
        policy = plan.policies.get(name, formats.LoadPolicy())
        parts = []
        for slot in slots(plan.entry.governance, [name], plan.upstream, tenant):
            resolved = store.resolve(name, slot.partition)
            if resolved is None:
                areas = " or ".join(store.deployment.read_areas)
                which = f" for tenant {slot.partition}" if slot.partition else ""
                raise dg.Failure(
                    f"input {name!r} has never been materialized{which} in {areas} under "
                    f"{store.deployment.storage_url}; materialize it first (select '+{name}' to "
                    "include it)"
                )
            ref = resolved.ref
            versions[slot.label] = InputVersion(
                kind="entry",
                area=resolved.area,
                key=ref.object,
                version=ref.sha256,
                partition=slot.partition,
            )
            parts.append((slot, resolved.area, ref))
        stacked = tenant is None and any(slot.partition for slot, _, _ in parts)
        first = parts[0] if parts else None
        specs[name] = InputSpec(
            kind="entry",
            area=first[1] if first else store.area,
            key=first[2].object if first else "",
            version=first[2].sha256 if first else "",
            format=first[2].format if first else "parquet",
            trusted_types=policy.trusted_types,
            allow_pickle=policy.allow_pickle,
            parts=tuple(
                PartSpec(
                    tenant=slot.partition or "",
                    area=area,
                    key=ref.object,
                    version=ref.sha256,
                    format=ref.format,
                )
                for slot, area, ref in parts
            )
            if stacked
            else (),
            usage=_usage_spec(plan, name, tenant),
        )
    return specs, versions


def materialize_entry(
    context: dg.AssetExecutionContext, plan: StepPlan
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    storage: CatalogStorage = context.resources.catalog_storage
    runner: NotebookRunner = context.resources.notebook_runner
    store = storage.get_store()
    _tag_run(context, store.deployment)
    tenant = context.partition_key if context.has_partition_key else None
    refusal = _refusal(plan, tenant)
    if refusal is not None:
        # Not a failure: the terms say this partition is never computed. Its output is optional,
        # so the run succeeds with nothing stored, and the asset says why.
        context.log.info(refusal)
        context.log_event(
            dg.AssetObservation(
                asset_key=plan.entry.name, partition=tenant, metadata={"catalog/not_run": refusal}
            )
        )
        return
    inputs, input_versions = resolve_inputs(store, plan, tenant)
    for name, version in input_versions.items():
        context.log.info(
            f"input {name}: {version.area} version {version.version[:12]} "
            f"({store.backend.uri(version.key)})"
        )
    if store.deployment.kind == "prod":
        promotion = _promotion(context, store, plan, input_versions, runner, tenant)
        if promotion is not None:
            yield from promotion
            return
    # Imported in the step, not at code-location load: papermill and nbformat cost 0.4 s to import
    # (the executor's forkserver preloads them once per run).
    from catalog_assets.orchestration.execution import NotebookFailed, run_notebook

    entry, run_id = plan.entry, context.run.run_id
    label = run_label(entry.name, tenant)
    executed = runner.executed_path(run_id, label)
    notebook_link = dg.MetadataValue.notebook(str(executed))
    with store.staging(run_id, label) as folder:
        spec = StepSpec(
            entry=entry.name,
            run_id=run_id,
            tenant=tenant,
            metadata_path=str(entry.metadata_path),
            deployment=DeploymentSpec(
                kind=store.deployment.kind,
                storage_url=store.deployment.storage_url,
                branch=store.deployment.branch,
                slug=store.deployment.slug,
            ),
            inputs=inputs,
            product=ProductSpec(
                staging_path=str(folder / "product"),
                declared_format=entry.metadata.format,
                trusted_types=tuple(entry.metadata.trusted_types),
                forbidden_columns=entry.governance.forbidden_columns() if entry.governance else {},
            ),
            checks=list(entry.metadata.checks),
            report_path=str(folder / "report.json"),
            cache_dir=str(runner.cache_dir()),
        )
        spec_path = folder / "spec.json"
        spec.write(spec_path)
        # The kernel gets an allow-list of this process's environment and the deployment's
        # storage credentials, never its other secrets.
        kernel_env = {
            **kernel_environment(os.environ),
            **storage.kernel_environment(),
            **runner.kernel_path(),
        }
        try:
            run_notebook(
                entry.notebook_path,
                setup_cell(spec, spec_path),
                parameters_cell(entry),
                executed,
                context.log.warning,
                kernel_env=kernel_env,
                output_cap=runner.output_cap(),
                secrets=tuple(secret_values({**os.environ, **kernel_env})),
            )
        except NotebookFailed as failure:
            secrets = secret_values({**os.environ, **kernel_env})
            extra = _keep_executed(store, executed, run_id, label)
            error = redact(str(failure), secrets)
            context.log_event(
                dg.AssetObservation(
                    asset_key=entry.name,
                    metadata={"executed_notebook": notebook_link, **extra, "error": error},
                )
            )
            raise dg.Failure(
                description=(
                    f"{entry.notebook_path}: {error}. {_kept(store, entry.name, tenant)} The "
                    f"executed notebook, with the traceback, is at {executed}"
                ),
                metadata={"executed_notebook": notebook_link},
            ) from None
        report = _read_report(Path(spec.report_path), entry, executed)
        staged = _seal(store, plan, spec, report, input_versions, run_id, executed)
        metadata: dict[str, Any] = {
            **product_metadata(staged.ref),
            "catalog/event": "recomputed"
            if context.run.tags.get("catalog/refresh")
            else "materialized",
            **refresh_metadata(context, entry.name),
            "executed_notebook": notebook_link,
            **_keep_executed(store, executed, run_id, label),
            "inputs": {
                name: {"area": v.area, "version": v.version[:12], "uri": store.backend.uri(v.key)}
                for name, v in input_versions.items()
            },
        }
        if store.deployment.kind == "branch":
            metadata = {**_comparison(store, staged.ref, runner), **metadata}
        if staged.ref.format == "png" and staged.path.stat().st_size <= _PREVIEW_LIMIT:
            encoded = base64.b64encode(staged.path.read_bytes()).decode()
            metadata["preview"] = dg.MetadataValue.md(
                f"![{entry.name}](data:image/png;base64,{encoded})"
            )
        kernel = report.kernel
        context.log.debug(
            f"kernel: {kernel.modules} modules imported, dagster imported: "
            f"{kernel.dagster_imported}"
        )
        if kernel.dagster_imported:
            context.log.warning(
                f"{entry.notebook_path} imports dagster in the kernel, which adds seconds to "
                "every run; use the catalog_assets.notebook API instead"
            )
        with warnings.catch_warnings():
            # `data_version` on Output is marked beta; it is how the content version becomes
            # Dagster's data version, which is what this project is built on.
            warnings.simplefilter("ignore", dg.BetaWarning)
            output = dg.Output(
                staged,
                output_name=entry.name,
                metadata=metadata,
                data_version=dg.DataVersion(staged.ref.data_version),
            )
        yield output
    selected = {key.name for key in context.selected_asset_check_keys}
    for outcome in staged.ref.checks:
        if outcome.name not in selected:
            continue
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            passed=outcome.passed,
            description=outcome.message,
            metadata=outcome.metadata,
        )


def _seal(
    store: CatalogStore,
    plan: StepPlan,
    spec: StepSpec,
    report: KernelReport,
    input_versions: dict[str, InputVersion],
    run_id: str,
    executed: Path,
) -> Staged:
    """Take the staged product out of the kernel's reach, check it, hash it, and build its ref."""
    entry, product = plan.entry, report.product
    staging = Path(spec.product.staging_path)
    if product is None or not staging.is_file():
        raise dg.Failure(
            description=(
                f"{entry.notebook_path}: the notebook ran but never handed back its product; "
                f"end it with catalog.output(value). Executed notebook: {executed}"
            ),
            metadata={"executed_notebook": dg.MetadataValue.notebook(str(executed))},
        )
    declared = entry.metadata.format
    if (
        product.format not in formats.FORMATS
        or (product.format == "pickle" and declared != "pickle")
        or (declared != "auto" and product.format != declared)
    ):
        raise dg.Failure(
            f"{entry.notebook_path}: the kernel reported format {product.format!r}, which this "
            f"entry does not allow (format: {declared}); nothing was stored"
        )
    fmt = formats.by_name(product.format)
    sealed = staging.with_name(f"sealed.{fmt.extension}")
    os.replace(staging, sealed)
    return Staged.seal(
        sealed,
        {
            "entry": entry.name,
            "format": fmt.name,
            "code_version": plan.versions.code,
            "metadata_version": plan.versions.metadata,
            "checks_version": plan.versions.checks,
            "inputs": input_versions,
            "params": dict(entry.metadata.params),
            "facts": _facts_from_file(fmt, sealed) or dict(product.facts),
            "metrics": report.metrics,
            "checks": [CheckResult(**c.model_dump()) for c in report.checks],
            "run_id": run_id,
            "deployment": store.deployment.kind,
            "branch": store.deployment.branch,
            "area": store.area,
            "partition": spec.tenant,
        },
    )


def _facts_from_file(fmt: formats.Format, path: Path) -> dict[str, Any] | None:
    """Facts read from the file itself (a parquet footer), rather than taken from the kernel."""
    if fmt.name != "parquet":
        return None
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as footer:  # one read of the footer for both
        schema, metadata = footer.schema_arrow, footer.metadata
    pandas_meta = schema.pandas_metadata or {}
    index_columns = {c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)}
    dtypes = {c["name"]: c.get("numpy_type") for c in pandas_meta.get("columns", [])}
    columns = [
        [name, str(dtypes.get(name) or schema.field(name).type)]
        for name in schema.names
        if name not in index_columns
    ]
    return {"type": "pandas.DataFrame", "row_count": metadata.num_rows, "columns": columns}


def setup_cell(spec: StepSpec, spec_path: Path) -> str:
    """The short cell a run puts before the first cell: ``catalog.load`` then returns this run's
    inputs. It names a spec file, never a credential or a long JSON line."""
    deployment = spec.deployment.branch or spec.deployment.kind
    return (
        f"# catalog_assets: run {spec.run_id[:8]} of {spec.entry} ({deployment}): "
        "catalog.load returns this run's inputs\n"
        "import catalog_assets.kernel.api as __catalog_run\n"
        f"__catalog_run._begin({str(spec_path)!r})\n"
    )


def parameters_cell(entry: Entry) -> str | None:
    """The entry's ``params``, as papermill writes injected parameters (after the parameters
    cell); None when it declares none."""
    if not entry.metadata.params:
        return None
    from papermill.translators import PythonTranslator

    return PythonTranslator.codify(
        entry.metadata.params, comment=f"Parameters from {entry.metadata_path.name}"
    )


def _read_report(path: Path, entry: Entry, executed: Path) -> KernelReport:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise dg.Failure(
            f"{entry.notebook_path}: the kernel ended without reporting back ({error}); did the "
            f"notebook exit the kernel or restart it? Executed notebook: {executed}"
        ) from None
    try:
        return KernelReport.model_validate_json(text)
    except ValueError as error:
        first = str(error).splitlines()[:3]
        raise dg.Failure(
            f"{entry.notebook_path}: the kernel's report is not what this step expects, so "
            f"nothing was stored ({' '.join(first)}). Executed notebook: {executed}"
        ) from None


def _promotion(
    context: dg.AssetExecutionContext,
    store: CatalogStore,
    plan: StepPlan,
    input_versions: dict[str, InputVersion],
    runner: NotebookRunner,
    tenant: str | None = None,
) -> list[dg.Output | dg.AssetCheckResult] | None:
    """Production takes a branch's version instead of recomputing, when it is the same code run
    on the same inputs; None when no branch version qualifies (the notebook then runs)."""
    entry = plan.entry
    blocking = {check.name for check in entry.metadata.checks if check.blocking}
    candidate, passed_over = find_promotable(
        store,
        entry.name,
        plan.versions.code,
        plan.versions.checks,
        {name: version.version for name, version in input_versions.items()},
        blocking,
        tenant,
    )
    for reason in passed_over:
        context.log.info(f"not promoting {entry.name} from {reason}")
    if candidate is None:
        return None
    ref = promoted_ref(candidate, context.run.run_id).model_copy(
        update={
            "metadata_version": plan.versions.metadata,
            "inputs": input_versions,
        }
    )
    if candidate.ref.checks_version != plan.versions.checks:
        # The checks changed since the branch ran them: run production's on the same bytes.
        value = store.load(ref, plan.own_policy)
        results = [
            CheckResult(**check.evaluate(value, ref.metrics).to_json())
            for check in entry.metadata.checks
        ]
        failed = [r.name for r in results if not r.passed and r.name in blocking]
        if failed:
            context.log.warning(
                f"not promoting {entry.name} from {candidate.area}: blocking check "
                f"{', '.join(failed)} fails on it; recomputing"
            )
            return None
        ref = ref.model_copy(update={"checks": results, "checks_version": plan.versions.checks})
    origin = candidate.ref
    context.log.info(
        f"promoting {entry.name} version {ref.short} from {candidate.area} (run "
        f"{(origin.run_id or '?')[:8]}) instead of recomputing: same code version, same inputs"
    )
    metadata: dict[str, Any] = {
        **product_metadata(ref),
        "catalog/event": "promoted",
        **refresh_metadata(context, entry.name),
        "catalog/promoted_from": {
            "area": candidate.area,
            "branch": origin.branch,
            "run_id": origin.run_id,
            "created_at": origin.created_at.isoformat(),
        },
    }
    executed = runner.executed_path(origin.run_id or "", entry.name)
    if origin.run_id and executed.exists():
        metadata["executed_notebook"] = dg.MetadataValue.notebook(str(executed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        output = dg.Output(
            Promoted(ref),
            output_name=entry.name,
            metadata=metadata,
            data_version=dg.DataVersion(ref.data_version),
        )
    return [
        output,
        *(
            dg.AssetCheckResult(
                check_name=result.name,
                passed=result.passed,
                description=f"{result.message} (evaluated on this version)",
                metadata=result.metadata,
            )
            for result in ref.checks
            if result.name in {key.name for key in context.selected_asset_check_keys}
        ),
    ]


def _comparison(store: CatalogStore, ref: Ref, runner: NotebookRunner) -> dict[str, Any]:
    """A branch's materialization shows how it differs from production's version."""
    from catalog_assets.review.summary import comparison_markdown

    production = store.read_ref(ref.entry, ref.partition, area=PROD_AREA)
    metadata: dict[str, Any] = {
        "catalog/comparison": dg.MetadataValue.md(
            comparison_markdown(ref, production[0] if production else None)
        )
    }
    if runner.report_path:
        metadata["catalog/review_report"] = dg.MetadataValue.url(
            Path(runner.report_path).resolve().as_uri()
        )
    return metadata


def _refusal(plan: StepPlan, tenant: str | None) -> str | None:
    """Why the terms keep this entry from running for ``tenant`` (its own, or an upstream
    partition it would read), or None."""
    governance = plan.entry.governance
    if tenant is None or governance is None:
        return None
    found = governance.refusal(tenant)
    for name, parent in plan.upstream.items():
        if found is None and parent is not None and parent.tenancy == "per_tenant":
            if parent.refusal(tenant):
                found = (
                    f"its input {name} does not run for tenant {tenant}: {parent.refusal(tenant)}"
                )
    return found


def _kept(store: CatalogStore, entry: str, tenant: str | None = None) -> str:
    current = store.read_ref(entry, tenant)
    if current is None:
        return "Nothing was stored (there is no previous value)."
    ref = current[0]
    return f"The previous value (version {ref.short}, run {(ref.run_id or '?')[:8]}) is kept."


def _keep_executed(store: CatalogStore, executed: Path, run_id: str, entry: str) -> dict[str, Any]:
    """On remote storage, also keep the executed notebook there: a run worker's disk (an ECS task)
    does not outlive the run. Locally the file under the project is the copy the UI opens."""
    if store.backend.staging_root() is not None or not executed.exists():
        return {}
    key = store.executed_key(run_id, entry, sha256_file(executed))
    store.keep_file(executed, key)
    return {"executed_notebook_uri": dg.MetadataValue.url(store.backend.uri(key))}
