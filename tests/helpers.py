"""Helpers shared by the test modules."""

import hashlib
import os

import dagster as dg

from catalog_assets.storage import open_backend, s3_options

ENTRIES = ("member_visit_features", "genre_affinity", "churn_model", "churn_scores")


class NotSklearn:
    """A type outside the libraries a model file may hold (module level so skops can name it)."""


def load_defs() -> dg.Definitions:
    from catalog_assets.definitions import defs

    return defs()


def materialize(*names: str) -> dg.ExecuteInProcessResult:
    """Materialize entries in process, on the instance of the test's DAGSTER_HOME."""
    job = load_defs().resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=[dg.AssetKey(n) for n in names],
        raise_on_error=False,
    )


def materializations(instance: dg.DagsterInstance, name: str) -> list[dg.AssetMaterialization]:
    records = instance.fetch_materializations(dg.AssetKey(name), limit=100).records
    return [r.asset_materialization for r in records]


def stored_keys(prefix: str) -> list[str]:
    """Keys under ``prefix`` of the storage root the environment points at (local or S3)."""
    backend = open_backend(os.environ["CATALOG_STORAGE_URL"], s3_options(os.environ))
    return backend.list(prefix)


def digests(prefix: str) -> dict[str, str]:
    """SHA-256 of every object under ``prefix`` of the current storage root."""
    backend = open_backend(os.environ["CATALOG_STORAGE_URL"], s3_options(os.environ))
    found = {}
    for key in backend.list(prefix):
        with backend.reading(key) as path:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
