"""``catalog materialize``: bring this deployment's storage up to date, in this process.

What the refresh sensor asks production's daemon to do, done here for any deployment and at
once: every entry (every tenant partition of a per-tenant entry) that this deployment's area
lacks, or holds computed from other code or inputs, is materialized, batch by batch in dependency
order: the unpartitioned entries together, each tenant's partitions together. A partition the
terms forbid is never run. It stops at the first batch that fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

import dagster as dg

from catalog_assets.catalog.discovery import Catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.orchestration.automation import sync_tenants
from catalog_assets.orchestration.staleness import assess, nodes_of
from catalog_assets.orchestration.step import run_tags
from catalog_assets.storage.store import CatalogStore

#: More rounds than any catalog needs: each round runs what no other batch is about to change.
MAX_ROUNDS = 20
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def sync_instance_tenants(home: Path, catalog: Catalog) -> None:
    """The instance at ``home`` gets its tenant partitions now (``catalog instance``), so a
    per-tenant entry can be materialized at once; the tenants sensor keeps them in step after."""
    if not catalog.tenants:
        return
    with dg.DagsterInstance.from_config(str(home)) as instance:
        sync_tenants(instance, catalog)


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    """The first line of the first step failure of a run."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            return event.step_failure_data.error.message.splitlines()[0]
    return "the run failed"


def materialize_pending(
    definitions: dg.Definitions,
    catalog: Catalog,
    store: CatalogStore,
    instance: dg.DagsterInstance,
    say: Callable[[str], None],
    only: Collection[str] | None = None,
) -> bool:
    """Materialize what this deployment's area lacks or holds stale (or, with ``only``, those
    entries whatever their state); True when all succeeded."""
    sync_tenants(instance, catalog)
    job = definitions.resolve_implicit_global_asset_job_def()
    code = {name: versions(entry).code for name, entry in catalog.entries.items()}
    sources = {
        name: store.source_versions().get(store.source_key(source.location))
        for name, source in catalog.sources.items()
    }
    partitions = nodes_of(catalog)
    asked = {(name, p) for name in only for p in partitions[name]} if only is not None else None
    for name in only or ():
        entry = catalog.entries[name]
        if entry.per_tenant and entry.governance is not None:
            for tenant in catalog.tenants:
                if tenant.id not in partitions[name]:
                    why = entry.governance.refusal(tenant.id) or "an input does not run for it"
                    say(f"{name} does not run for tenant {tenant.id}: {why}")
    for _ in range(MAX_ROUNDS):
        state = assess(catalog, code, store.area_refs(store.area), sources, asked)
        if not state.batches:
            say(
                "nothing left to run"
                if asked is not None
                else f"{store.area}: every entry is up to date"
            )
            return True
        for batch in state.batches:
            where = f" for tenant {batch.partition}" if batch.partition else ""
            say(f"materializing {', '.join(batch.entries)}{where}")
            started = time.monotonic()
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[dg.AssetKey(name) for name in batch.entries],
                partition_key=batch.partition,
                raise_on_error=False,
                run_config=QUIET,
                tags={**run_tags(store.deployment), "catalog/refresh": "materialize"},
            )
            if not result.success:
                failure = next(
                    (
                        e.step_failure_data.error.message
                        for e in result.all_events
                        if e.is_step_failure
                    ),
                    "the run failed",
                )
                say(f"FAILED in run {result.run_id[:8]}: {failure.splitlines()[0]}")
                return False
            say(f"  done in {time.monotonic() - started:.1f} s (run {result.run_id[:8]})")
            if asked is not None:
                asked -= {(name, batch.partition) for name in batch.entries}
        if asked is not None and not asked:
            return True
    say(f"stopped after {MAX_ROUNDS} rounds with entries still stale")
    return False
