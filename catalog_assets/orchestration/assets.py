"""Catalog entry -> Dagster asset that runs the entry's notebook in a Jupyter kernel.

Each asset carries what the entry declares (group, description, owner, kinds, tags, inputs as deps,
checks), the code version (what decides the product) and, as definition metadata, the metadata and
checks versions. What its step does is in ``orchestration.step``.
"""

import logging
import os
from typing import Any

import dagster as dg

from catalog_assets.catalog.discovery import BrokenEntry, Catalog, Entry
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.errors import CatalogAssetsError, redact
from catalog_assets.orchestration.staleness import partition_sets
from catalog_assets.orchestration.step import StepPlan, materialize_entry
from catalog_assets.settings import secret_values
from catalog_assets.storage import formats

KINDS = {"dataset": "pandas", "model": "scikit-learn"}


def entry_asset(
    entry: Entry, catalog: Catalog, sets: dict[str, tuple[str, tuple[str, ...]]] | None = None
) -> dg.AssetsDefinition:
    """The asset of one catalog entry (``sets``: ``partition_sets(catalog)``, computed once)."""
    meta = entry.metadata
    sets = partition_sets(catalog) if sets is None else sets
    partitions = sets.get(entry.name)
    per_tenant_inputs = {name for name in meta.inputs if name in sets}
    entry_versions = versions(entry)
    plan = StepPlan(
        entry=entry,
        versions=entry_versions,
        sources={n: catalog.sources[n] for n in meta.inputs if n in catalog.sources},
        policies={
            n: formats.LoadPolicy(
                tuple(catalog.entries[n].metadata.trusted_types),
                catalog.entries[n].metadata.format == "pickle",
            )
            for n in meta.inputs
            if n in catalog.entries
        },
        own_policy=formats.LoadPolicy(tuple(meta.trusted_types), meta.format == "pickle"),
        upstream={n: catalog.entries[n].governance for n in meta.inputs if n in catalog.entries},
    )

    spec = dg.AssetSpec(
        key=entry.name,
        group_name=entry.group,
        description=meta.description,
        owners=[meta.owner],
        kinds={"jupyter", KINDS[meta.kind]},
        tags=meta.tags,
        code_version=entry_versions.code,
        # One partition per tenant it may run for (dynamic: the tenants sensor fills them).
        partitions_def=dg.DynamicPartitionsDefinition(name=partitions[0]) if partitions else None,
        metadata={
            "notebook_path": dg.MetadataValue.notebook(str(entry.notebook_path)),
            "metadata_path": dg.MetadataValue.path(str(entry.metadata_path)),
            "catalog/kind": meta.kind,
            "catalog/metadata_version": entry_versions.metadata,
            "catalog/checks_version": entry_versions.checks,
            **_terms_metadata(entry),
        },
    )

    # One-spec multi_asset rather than @asset: the same definition, built in three quarters of the
    # time, and resources by key rather than as typed parameters, which Dagster would inspect per
    # asset. Both matter at thousands of entries (BENCHMARKS.md, P2).
    @dg.multi_asset(
        name=entry.name,
        # A tenant whose terms keep it from this entry gets no product nor check results: its
        # outputs are optional (subsettable, in Dagster's terms).
        can_subset=entry.per_tenant,
        outs={
            entry.name: dg.AssetOut.from_spec(
                spec, dagster_type=Any, is_required=not entry.per_tenant
            )
        },
        # A per-tenant entry reads the same tenant's partition of a per-tenant input.
        deps=[
            dg.AssetDep(name, partition_mapping=dg.IdentityPartitionMapping())
            if partitions and name in per_tenant_inputs
            else name
            for name in meta.inputs
        ],
        check_specs=[
            dg.AssetCheckSpec(
                check.name,
                asset=entry.name,
                description=check.describe(),
                blocking=check.blocking,
            )
            for check in meta.checks
        ],
        op_tags={"notebook_path": str(entry.notebook_path)},
        required_resource_keys={"catalog_storage", "notebook_runner"},
    )
    def _notebook_asset(context: dg.AssetExecutionContext):
        try:
            yield from materialize_entry(context, plan)
        except CatalogAssetsError as error:
            # A storage or catalog error is one clear line in the UI, not a traceback, and never
            # carries a credential (an endpoint URL with user:password, a secret's value).
            raise dg.Failure(
                description=f"{entry.name}: {redact(str(error), secret_values(os.environ))}"
            ) from None

    return _notebook_asset


def _terms_metadata(entry: Entry) -> dict[str, Any]:
    """What the terms say of this entry, for people reading the asset's page."""
    governance = entry.governance
    if governance is None or not governance.governed:
        return {}
    found: dict[str, Any] = {
        "catalog/purpose": governance.purpose or "",
        "catalog/tenancy": governance.tenancy or "",
    }
    if entry.per_tenant:
        found["catalog/tenants"] = ", ".join(governance.partitions())
    elif governance.tenancy == "pooled":
        pooled = governance.allowed_tenants(governance.sources, pooled=True)
        found["catalog/pooled_tenants"] = ", ".join(pooled)
    if entry.metadata.personal_data:
        declared = entry.metadata.personal_data
        found["catalog/personal_data"] = f"{', '.join(declared.columns)}: {declared.reason}"
    if days := governance.retention_days():
        found["catalog/retention_days"] = days
    return found


def catalog_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """Every entry as an asset: the valid ones, and those with problems (which fail at once),
    with their problems logged once."""
    if catalog.broken:
        problems = [str(p) for b in catalog.broken.values() for p in b.problems]
        logging.getLogger("catalog_assets").warning(
            "%d catalog entries have problems and cannot run (the others load as usual; "
            "CATALOG_STRICT=1 makes this an error):\n%s",
            len(catalog.broken),
            "\n".join(problems),
        )
    sets = partition_sets(catalog)
    return [
        *(entry_asset(entry, catalog, sets) for entry in catalog.entries.values()),
        *(broken_asset(broken, catalog) for broken in catalog.broken.values()),
    ]


def broken_asset(broken: BrokenEntry, catalog: Catalog) -> dg.AssetsDefinition:
    """An entry with problems: shown with its problems first in its description, keeping its
    place in the graph, and failing at once, with the same lines, if it is materialized."""
    lines = [str(problem) for problem in broken.problems]
    in_cycle = any("dependency cycle" in problem.message for problem in broken.problems)
    usable = (
        set(catalog.entries) | set(catalog.sources) | (set() if in_cycle else set(catalog.broken))
    )
    deps = [name for name in broken.inputs if name in usable and name != broken.name]
    described = broken.metadata.description if broken.metadata else ""
    spec = dg.AssetSpec(
        key=broken.name,
        group_name=broken.group,
        description="**This entry has problems and cannot run:**\n\n"
        + "\n".join(f"- `{line}`" for line in lines)
        + (f"\n\n{described}" if described else ""),
        owners=[broken.metadata.owner] if broken.metadata else [],
        kinds={"jupyter"},
        metadata={
            "notebook_path": dg.MetadataValue.path(str(broken.notebook_path)),
            "metadata_path": dg.MetadataValue.path(str(broken.metadata_path)),
            "catalog/problems": dg.MetadataValue.md("\n".join(f"- `{line}`" for line in lines)),
        },
    )

    @dg.multi_asset(
        name=broken.name,
        outs={broken.name: dg.AssetOut.from_spec(spec, dagster_type=Any)},
        deps=deps,
    )
    def _broken_asset(context: dg.AssetExecutionContext):
        raise dg.Failure(
            description=f"{broken.name} cannot run until its problems are fixed:\n"
            + "\n".join(lines)
        )

    return _broken_asset
