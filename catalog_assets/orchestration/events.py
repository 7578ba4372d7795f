"""Versions that change outside a run (a rollback, later a promotion), recorded in Dagster.

The materialization carries the version's data version, code version and input data versions as
Dagster's own tags, so lineage and the "unsynced" status follow the ref exactly as after a run.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from catalog_assets.orchestration.metadata import product_metadata
from catalog_assets.storage.refs import Ref

DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
INPUT_DATA_VERSION_PREFIX = "dagster/input_data_version"


def open_instance(dagster_home: Path | str) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home))


def record_version(instance: dg.DagsterInstance, ref: Ref, description: str) -> None:
    """Record ``ref`` as the asset's latest materialization, saying how it got there."""
    tags = {DATA_VERSION_TAG: ref.data_version}
    if ref.code_version:
        tags[CODE_VERSION_TAG] = ref.code_version
    for name, version in ref.inputs.items():
        tags[f"{INPUT_DATA_VERSION_PREFIX}/{name}"] = version.version
    metadata = {**product_metadata(ref), "catalog/event": ref.event}
    if ref.rolled_back_from:
        metadata["catalog/rolled_back_from"] = ref.rolled_back_from
    if ref.promoted_from:
        metadata["catalog/promoted_from"] = ref.promoted_from.model_dump(exclude_none=True)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=ref.entry,
            partition=ref.partition,
            description=description,
            metadata=metadata,
            tags=tags,
        )
    )
