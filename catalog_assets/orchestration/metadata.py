"""What a materialization shows about its product, from the product's ref."""

from __future__ import annotations

from typing import Any

import dagster as dg

from catalog_assets.storage.refs import Ref


def product_metadata(ref: Ref) -> dict[str, Any]:
    """Row count and column schema of tables, metrics of models, and the version stored."""
    facts = ref.facts
    metadata: dict[str, Any] = {}
    if "row_count" in facts:
        metadata["dagster/row_count"] = int(facts["row_count"])
    if facts.get("columns"):
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(str(name), str(dtype)) for name, dtype in facts["columns"]]
        )
    if "row_count" not in facts:
        metadata["catalog/value_type"] = str(facts.get("type", "unknown"))
    for name, value in ref.metrics.items():
        metadata[f"metric/{name}"] = value
    metadata.update(
        {
            "catalog/version": ref.sha256,
            "storage_format": ref.format,
            "size_bytes": ref.size,
            "deployment": ref.deployment if ref.branch is None else f"branch {ref.branch}",
            "catalog/area": ref.area,
        }
    )
    if ref.code_version:
        metadata["catalog/code_version"] = ref.code_version
    return metadata
