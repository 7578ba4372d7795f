"""Dagster resources over ``storage.CatalogStore``: the storage resource and the IO manager.

The IO manager stores every catalog product. A notebook product arrives already staged by the kernel
(``Staged``) and is committed by an atomic rename, so its bytes are written exactly once; any other
value (from a Python asset, a test) is serialised here. Loading honours the deployment: a branch
reads its own copy if it has one, else production's.
"""

from typing import Any

import dagster as dg

from catalog_assets import formats
from catalog_assets.deployment import Deployment, branch_slug
from catalog_assets.storage import CatalogStore, Located, Staged, open_backend


class CatalogStorage(dg.ConfigurableResource):
    """The storage root and the deployment whose area this code location writes."""

    storage_url: str
    deployment: str = "local"
    branch: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, s3: dict[str, str] | None = None
    ) -> "CatalogStorage":
        s3 = s3 or {}
        return cls(
            storage_url=deployment.storage_url,
            deployment=deployment.kind,
            branch=deployment.branch,
            s3_endpoint_url=s3.get("endpoint_url"),
            s3_region=s3.get("region_name"),
        )

    def kernel_s3_options(self) -> dict[str, str]:
        """The S3 settings a notebook kernel needs to reach the same storage."""
        options = {"endpoint_url": self.s3_endpoint_url, "region_name": self.s3_region}
        return {name: value for name, value in options.items() if value}

    def get_deployment(self) -> Deployment:
        slug = branch_slug(self.branch) if self.deployment == "branch" and self.branch else None
        return Deployment(self.deployment, self.storage_url, branch=self.branch, slug=slug)  # type: ignore[arg-type]

    def get_store(self) -> CatalogStore:
        options: dict[str, Any] = {}
        if self.storage_url.startswith("s3://"):
            # The step process talks to S3 through dagster-aws, as every Dagster S3 user does.
            # Imported here: it costs 0.6 s, which a code location on local storage never needs.
            from dagster_aws.s3 import S3Resource

            resource = S3Resource(endpoint_url=self.s3_endpoint_url, region_name=self.s3_region)
            options["client"] = resource.get_client()
        return CatalogStore(open_backend(self.storage_url, options), self.get_deployment())


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
