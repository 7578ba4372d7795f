"""The IO manager over ``storage.CatalogStore``: storing is committing a ref.

A notebook product arrives already staged and verified by its step (``Staged``): the IO manager
stores its immutable object (create-only) and publishes its ref, so its bytes are written exactly
once. Any other value (a Python asset, a test) is serialised here first. Loading reads the ref the
deployment sees (a branch's own, else production's), never lists files, and verifies the object's
SHA-256 against the ref.
"""

from typing import Any

import dagster as dg

from catalog_assets.errors import CatalogAssetsError
from catalog_assets.orchestration.metadata import product_metadata
from catalog_assets.orchestration.resources import CatalogStorage
from catalog_assets.storage import formats
from catalog_assets.storage.store import Promoted, Staged

SOURCE_LOCATION = "catalog/source_location"
SOURCE_FORMAT = "catalog/source_format"


class CatalogIOManager(dg.ConfigurableIOManager):
    """Stores products as immutable objects named by refs (parquet, skops, json, npy, png)."""

    storage: CatalogStorage
    #: Classes (module.Class) models loaded through this IO manager may hold, besides
    #: scikit-learn, NumPy and SciPy classes.
    trusted_types: list[str] = []
    #: Assets whose products were declared ``format: pickle`` and may be unpickled.
    pickle_assets: list[str] = []

    def _policy(self, name: str) -> formats.LoadPolicy:
        return formats.LoadPolicy(tuple(self.trusted_types), name in self.pickle_assets)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        store = self.storage.get_store()
        name = context.asset_key.path[-1]
        try:
            if isinstance(obj, Staged):
                ref = store.commit(obj)
                metadata: dict[str, Any] = {}
            elif isinstance(obj, Promoted):
                ref = store.publish(store.adopt_object(obj.ref))
                metadata = {}
            else:
                declared = "pickle" if name in self.pickle_assets else None
                ref = store.write_value(
                    obj,
                    {"entry": name, "run_id": context.run_id},
                    self._policy(name),
                    declared,
                )
                metadata = product_metadata(ref)
        except CatalogAssetsError as error:
            raise dg.Failure(f"{name}: {error}") from None
        context.add_output_metadata(
            {
                **metadata,
                "path": dg.MetadataValue.path(store.backend.uri(ref.object)),
                "catalog/ref": store.backend.uri(store.ref_key(name, ref.partition)),
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        store = self.storage.get_store()
        name = context.asset_key.path[-1]
        definition = (
            (context.upstream_output.definition_metadata or {}) if context.upstream_output else {}
        )
        try:
            if SOURCE_LOCATION in definition:
                key = store.source_key(str(definition[SOURCE_LOCATION]))
                context.log.info(f"{name}: reading source {store.backend.uri(key)}")
                return store.read_source(key, None, str(definition[SOURCE_FORMAT]))
            resolved = store.resolve(name)
            if resolved is None:
                areas = " or ".join(store.deployment.read_areas)
                raise dg.Failure(
                    f"input {name!r} has never been materialized in {areas} under "
                    f"{store.deployment.storage_url}; materialize it first (select '+{name}')"
                )
            context.log.info(
                f"{name}: reading {resolved.area} version {resolved.ref.short} "
                f"({store.backend.uri(resolved.ref.object)})"
            )
            return store.load(resolved.ref, self._policy(name))
        except CatalogAssetsError as error:
            raise dg.Failure(f"{name}: {error}") from None
