"""Automation: the production refresh sensor, source observation, and the entries' schedules.

The refresh sensor is how a merge reaches production: each tick it compares every entry's current
code version with the one in production's ref, and the versions each entry was computed from with
the versions production holds now (``orchestration.staleness``), and requests one run for the stale
entries and their downstream. The run key derives from that state, so a reload or a second tick
never launches a duplicate, and a failed run is not resubmitted until the code or the inputs
change (or an operator re-executes it). Each stale entry's step then promotes a branch's version
computed from the same code and inputs, or recomputes.

Sources are observable source assets; the sensor observes them on the cadence ``sources.yaml``
sets (``observe_every_minutes``), recording each new version as an observation, which makes their
downstream stale.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import dagster as dg

from catalog_assets.catalog import graph
from catalog_assets.catalog.discovery import Catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.catalog.schema import SourceSpec
from catalog_assets.orchestration.staleness import (
    Assessment,
    Batch,
    assess,
    label,
    partition_sets,
)
from catalog_assets.orchestration.step import run_tags
from catalog_assets.settings import Deployment
from catalog_assets.storage.refs import InputVersion, Ref
from catalog_assets.storage.store import CatalogStore

SENSOR = "catalog_refresh"
TENANTS_SENSOR = "catalog_tenants"
#: Dagster's implicit job of every asset (``IMPLICIT_ASSET_JOB_NAME``), what the UI launches.
ASSET_JOB = "__ASSET_JOB"
REFRESH_TAG = "catalog/refresh"
STALE_TAG = "catalog/stale"
REASONS_TAG = "catalog/stale_reasons"
DATA_VERSION_TAG = "dagster/data_version"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_TAG = "dagster/sensor_name"


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


class ProductionView:
    """Production's refs and source versions, read in bulk; refs are cached by version between
    ticks, so a tick reads only the refs that changed. The cache's essentials also travel in the
    sensor's cursor, so the first tick after a code-location reload does not read every ref."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.code_versions = {name: versions(e).code for name, e in catalog.entries.items()}
        self._cache: dict[str, Any] = {}

    def export(self) -> dict[str, list[Any]]:
        """What staleness needs of each cached ref: version, code version, sha256, inputs."""
        return {
            key: [
                version,
                ref.code_version,
                ref.sha256,
                {n: v.version for n, v in ref.inputs.items()},
            ]
            for key, (version, ref) in self._cache.items()
        }

    def restore(self, saved: dict[str, list[Any]]) -> None:
        if self._cache or not saved:
            return
        for key, (version, code_version, sha256, inputs) in saved.items():
            summary = Ref.model_construct(
                entry=key.rsplit("/", 1)[-1].removesuffix(".json"),
                code_version=code_version,
                sha256=sha256,
                inputs={n: InputVersion.model_construct(version=v) for n, v in inputs.items()},
            )
            self._cache[key] = (version, summary)

    def refs(self, store: CatalogStore) -> dict[tuple[str, str | None], Ref]:
        return store.area_refs("prod", self._cache)

    def source_versions(self, store: CatalogStore) -> dict[str, str | None]:
        by_key = store.source_versions()
        return {
            name: by_key.get(store.source_key(source.location))
            for name, source in self.catalog.sources.items()
        }

    def assess(
        self, store: CatalogStore, source_versions: dict[str, str | None] | None = None
    ) -> Assessment:
        sources = source_versions if source_versions is not None else self.source_versions(store)
        return assess(self.catalog, self.code_versions, self.refs(store), sources)


def _observations(
    catalog: Catalog, live: dict[str, str | None], cursor: dict[str, Any], now: float
) -> tuple[list[dg.AssetObservation], dict[str, str | None]]:
    """Observe each source whose cadence elapsed; returns the observations of new versions and
    the versions as last observed (what staleness is judged by)."""
    events, observed = [], {}
    seen = cursor.setdefault("sources", {})
    for name, source in catalog.sources.items():
        version = live.get(name)
        last = seen.get(name)
        due = last is None or now - last["at"] >= source.observe_every_minutes * 60
        if due:
            if version is not None and (last is None or last["version"] != version):
                events.append(
                    dg.AssetObservation(
                        asset_key=name,
                        tags={DATA_VERSION_TAG: version},
                        metadata={"catalog/source_version": version},
                    )
                )
            seen[name] = {"version": version, "at": now}
        observed[name] = seen[name]["version"]
    return events, observed


def sensors(catalog: Catalog, deployment: Deployment, refresh: bool) -> list[dg.SensorDefinition]:
    """The refresh sensor: running by default in production, opt-in locally (``refresh``), and
    never defined in a branch deployment (its previews run what it changes); and, when the
    catalog has tenants, the sensor keeping their partitions in step with tenants.yaml."""
    found = [tenants_sensor(catalog)] if catalog.tenants else []
    if deployment.kind == "branch":
        return found
    return [refresh_sensor(catalog, deployment, deployment.kind == "prod" or refresh), *found]


def tenant_requests(
    instance: dg.DagsterInstance, catalog: Catalog
) -> list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]:
    """What makes each tenant partitions definition hold the tenants its entries run for."""
    wanted = {name: list(tenants) for name, tenants in partition_sets(catalog).values()}
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    for name, tenants in sorted(wanted.items()):
        have = set(instance.get_dynamic_partitions(name))
        added = [t for t in tenants if t not in have]
        removed = sorted(have - set(tenants))
        if added:
            requests.append(dg.AddDynamicPartitionsRequest(name, added))
        if removed:
            requests.append(dg.DeleteDynamicPartitionsRequest(name, removed))
    return requests


def sync_tenants(instance: dg.DagsterInstance, catalog: Catalog) -> None:
    """Make the instance's tenant partitions those the terms give each entry, at once (``catalog
    instance``, previews); the tenants sensor keeps them so afterwards."""
    for request in tenant_requests(instance, catalog):
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def tenants_sensor(catalog: Catalog) -> dg.SensorDefinition:
    """Keeps one partition per tenant of tenants.yaml (RUNNING by default): adding a chain to
    tenants.yaml adds its partitions, with no code change."""

    @dg.sensor(
        name=TENANTS_SENSOR,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Keeps the tenant partitions of per-tenant entries those of tenants.yaml.",
    )
    def catalog_tenants(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        requests = tenant_requests(context.instance, catalog)
        if not requests:
            return dg.SkipReason("the tenant partitions are those of tenants.yaml")
        return dg.SensorResult(dynamic_partitions_requests=requests)

    return catalog_tenants


def source_assets(catalog: Catalog, location_key: str, format_key: str) -> list[dg.SourceAsset]:
    with warnings.catch_warnings():
        # observable_source_asset is marked beta; it is Dagster's way to give a source a data
        # version from outside Dagster, which is what the refresh is judged by.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return [source_asset(s, location_key, format_key) for s in catalog.sources.values()]


def refresh_sensor(catalog: Catalog, deployment: Deployment, running: bool) -> dg.SensorDefinition:
    """The production refresh sensor (RUNNING by default in production only)."""
    view = ProductionView(catalog)
    entries = [dg.AssetKey(name) for name in catalog.entries]

    @dg.sensor(
        name=SENSOR,
        minimum_interval_seconds=30,
        default_status=_status(running),
        # Dagster's own asset job, which (unlike a job built from a selection) may hold assets
        # of different partitions definitions; each request selects one definition's assets.
        job_name=ASSET_JOB if entries else None,
        required_resource_keys={"catalog_storage"},
        description="Refreshes the entries production holds a stale version of (new, changed "
        "code, or changed inputs and sources) and their downstream, in one run; observes "
        "sources on their cadence.",
    )
    def catalog_refresh(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        store: CatalogStore = context.resources.catalog_storage.get_store()
        cursor = json.loads(context.cursor) if context.cursor else {}
        view.restore(cursor.get("refs", {}))
        events, observed = _observations(catalog, view.source_versions(store), cursor, time.time())
        state = view.assess(store, observed)
        cursor["refs"] = view.export()
        new_cursor = json.dumps(cursor)
        if not state.stale:
            return dg.SensorResult(
                skip_reason="production holds the current version of every entry",
                asset_events=events,
                cursor=new_cursor,
            )
        for stale in state.stale.values():
            context.log.info(f"stale: {stale.describe()}")
        if state.waiting:
            waiting = ", ".join(sorted(state.waiting))
            context.log.info(f"waiting for their upstream to be refreshed first: {waiting}")
        requests, skipped = [], []
        for batch in state.batches:
            previous = context.instance.get_runs(
                filters=dg.RunsFilter(tags={SENSOR_TAG: SENSOR, RUN_KEY_TAG: batch.key}), limit=1
            )
            if previous:
                skipped.append(_already(previous[0], batch))
                continue
            requests.append(
                dg.RunRequest(
                    run_key=batch.key,
                    asset_selection=[dg.AssetKey(name) for name in batch.entries],
                    partition_key=batch.partition,
                    tags={
                        **run_tags(deployment),
                        REFRESH_TAG: "sensor",
                        STALE_TAG: batch.summary(),
                        REASONS_TAG: json.dumps(batch.reasons),
                    },
                )
            )
        if not requests:
            return dg.SensorResult(
                skip_reason="; ".join(skipped) or "waiting for runs in progress",
                asset_events=events,
                cursor=new_cursor,
            )
        return dg.SensorResult(run_requests=requests, asset_events=events, cursor=new_cursor)

    return catalog_refresh


def _already(run: dg.DagsterRun, state: Batch) -> str:
    status = run.status
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        ended = "failed" if status == dg.DagsterRunStatus.FAILURE else "was canceled"
        return (
            f"run {run.run_id[:8]} for this change {ended}; not resubmitted until "
            f"the code or the inputs change, or an operator re-executes it ({state.summary()})"
        )
    if status == dg.DagsterRunStatus.SUCCESS:
        return (
            f"run {run.run_id[:8]} for this change succeeded but left entries stale (a blocking "
            f"check may have stopped them): {state.summary()}"
        )
    return f"run {run.run_id[:8]} for this change is {status.value.lower()}"


def source_asset(source: SourceSpec, location_key: str, format_key: str) -> dg.SourceAsset:
    """A source as an observable source asset: its data version is its file's version in storage
    (S3 ETag, or size, modification time and inode locally)."""

    @dg.observable_source_asset(
        name=source.name,
        group_name="sources",
        description=source.description,
        owners=[source.owner] if source.owner else None,
        metadata={
            "provider": source.provider,
            location_key: source.location,
            format_key: source.format,
        },
        required_resource_keys={"catalog_storage"},
    )
    def _observe(context) -> dg.DataVersion:
        store: CatalogStore = context.resources.catalog_storage.get_store()
        info = store.source_info(source.location)
        if info is None:
            raise dg.Failure(
                f"source {source.name!r} has no data at "
                f"{store.backend.uri(store.source_key(source.location))}"
            )
        return dg.DataVersion(info.version)

    return _observe


def entry_schedules(catalog: Catalog, deployment: Deployment) -> list[dg.ScheduleDefinition]:
    """One schedule per entry with a ``schedule``; running by default in production only.

    A scheduled run includes the entry's stale upstream entries of the same partitioning (one run
    holds one partitions definition), so a schedule never refreshes from inputs it could refresh
    first; stale upstream of other partitionings is the refresh sensor's. A per-tenant entry's
    tick requests one run per tenant partition. A laptop or a branch deployment shows the
    schedules but never starts them.
    """
    status = (
        dg.DefaultScheduleStatus.RUNNING
        if deployment.kind == "prod"
        else dg.DefaultScheduleStatus.STOPPED
    )
    view = ProductionView(catalog)
    sets = partition_sets(catalog)

    def kind(name: str) -> str | None:
        return sets[name][0] if name in sets else None

    schedules = []
    for entry in catalog.entries.values():
        if not entry.metadata.schedule:
            continue
        upstream = {
            u for u in graph.upstream(catalog.graph, [entry.name]) if kind(u) == kind(entry.name)
        }
        schedules.append(
            _schedule(
                entry.name,
                entry.metadata.schedule,
                entry.metadata_path.name,
                upstream,
                sets[entry.name][1] if entry.name in sets else None,
                status,
                view,
                deployment,
            )
        )
    return schedules


def _schedule(
    name: str,
    cron: str,
    origin: str,
    upstream: set[str],
    tenants: tuple[str, ...] | None,
    status: dg.DefaultScheduleStatus,
    view: ProductionView,
    deployment: Deployment,
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{name}_schedule",
        cron_schedule=cron,
        job_name=ASSET_JOB,
        default_status=status,
        required_resource_keys={"catalog_storage"},
        description=f"Refresh {name} on '{cron}' (from {origin}), with its stale upstream entries",
    )
    def _refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        store: CatalogStore = context.resources.catalog_storage.get_store()
        state = view.assess(store) if deployment.kind == "prod" else None
        requests = []
        # A tick's requests need keys of their own when there are several (one per tenant).
        tick = context.scheduled_execution_time.isoformat() if tenants is not None else ""
        for tenant in tenants if tenants is not None else (None,):
            stale = (set(state.stale) | state.downstream) if state else set()
            stale_upstream = sorted(u for u in upstream if label((u, tenant)) in stale)
            if stale_upstream:
                context.log.info(
                    f"{label((name, tenant))}: refreshing stale upstream first: "
                    f"{', '.join(stale_upstream)}"
                )
            requests.append(
                dg.RunRequest(
                    asset_selection=[dg.AssetKey(n) for n in [*stale_upstream, name]],
                    partition_key=tenant,
                    run_key=f"{tick}:{tenant}" if tenant else None,
                    tags={**run_tags(deployment), REFRESH_TAG: "schedule"},
                )
            )
        return requests

    return _refresh
