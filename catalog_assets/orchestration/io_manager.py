"""The IO manager over ``storage.CatalogStore``.

It stores every catalog product. A notebook product arrives already staged by the kernel
(``Staged``) and is committed by an atomic rename, so its bytes are written exactly once; any other
value (from a Python asset, a test) is serialised here. Loading honours the deployment: a branch
reads its own copy if it has one, else production's.
"""

from typing import Any

import dagster as dg

from catalog_assets.orchestration.resources import CatalogStorage
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore, Located, Staged

SOURCE_LOCATION = "catalog/source_location"
SOURCE_FORMAT = "catalog/source_format"


def frame_metadata(description: dict[str, Any]) -> dict[str, Any]:
    """``dagster/row_count`` and ``dagster/column_schema`` from ``formats.describe`` output."""
    if "row_count" not in description:
        return {"catalog/value_type": description.get("type", "unknown")}
    return {
        "dagster/row_count": description["row_count"],
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, dtype) for name, dtype in description["columns"]]
        ),
    }


class CatalogIOManager(dg.ConfigurableIOManager):
    """Stores products as parquet (frames), skops (scikit-learn models) or pickle (the rest)."""

    storage: CatalogStorage

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        store = self.storage.get_store()
        name = context.asset_key.path[-1]
        if isinstance(obj, Staged):
            fmt = obj.format
            key = store.commit(obj.staging_key, name, fmt)
            metadata: dict[str, Any] = {}
        else:
            fmt = formats.format_for(obj)
            key = store.key(name, fmt)
            store.write(key, obj, fmt)
            metadata = frame_metadata(formats.describe(obj))
        context.add_output_metadata(
            {
                **metadata,
                "path": dg.MetadataValue.path(store.backend.uri(key)),
                "size_bytes": store.backend.size(key),
                "storage_format": fmt,
                "deployment": store.deployment.label,
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        store = self.storage.get_store()
        located = locate_input(
            store, context.asset_key, context.upstream_output.definition_metadata
        )
        context.log.info(
            f"{context.asset_key.to_user_string()}: reading {located.area} copy "
            f"{store.backend.uri(located.key)}"
        )
        return store.read(located.key, located.format)


def locate_input(
    store: CatalogStore, asset_key: dg.AssetKey, definition_metadata: dict[str, Any] | None
) -> Located:
    """Where an input lives: a source's fixed location, or a product as the deployment reads it.

    Raises:
        dg.Failure: the input has no stored data yet, saying what to run.
    """
    name = asset_key.path[-1]
    metadata = definition_metadata or {}
    if SOURCE_LOCATION in metadata:
        key = store.source_key(str(metadata[SOURCE_LOCATION]))
        if store.backend.list(key) != [key]:
            raise dg.Failure(
                f"source {name!r} has no data at {store.backend.uri(key)}; load the provider's "
                "file there (for the sample catalog: `catalog sample-data`)"
            )
        return Located(key, str(metadata[SOURCE_FORMAT]), "sources")
    located = store.locate(name)
    if located is None:
        areas = " or ".join(store.deployment.read_prefixes)
        raise dg.Failure(
            f"input {name!r} has never been materialized in {areas} under "
            f"{store.deployment.storage_url}; materialize it first (select '+{name}' to include it)"
        )
    return located
