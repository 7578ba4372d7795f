"""P10: one tick of the refresh sensor over a 500-entry catalog, nothing stale and 10 stale.

Production's refs are written for every entry (computed from the current code and inputs), then
the sensor is evaluated as the daemon evaluates it (``evaluate_tick`` on a real instance). The
first tick reads every ref; later ticks re-read only refs whose version changed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from benchmarks.environment import environment, s3_server, synthetic_catalog
from benchmarks.harness import Figure, Report
from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.refs import InputVersion
from catalog_assets.storage.store import CatalogStore

ENTRIES = 500


def seed_production(catalog_dir: Path, storage: str, stale: int, s3: dict) -> None:
    """Production refs for every entry; ``stale`` of them computed by other code."""
    catalog = load_catalog(catalog_dir)
    store = CatalogStore.open(Deployment("prod", storage), s3)
    shas: dict[str, str] = {}
    frame = pd.DataFrame({"x": range(10)})
    for index, name in enumerate(catalog.upstream_order()):
        entry = catalog.entries[name]
        inputs = {
            i: InputVersion(kind="entry", area="prod", key=i, version=shas[i])
            for i in entry.metadata.inputs
        }
        code = versions(entry).code if index >= stale else "0ld-code"
        ref = store.write_value(
            frame.assign(x=index),
            {"entry": name, "code_version": code, "inputs": inputs},
            formats.LoadPolicy(),
        )
        shas[name] = ref.sha256


def ticks(repeat: int) -> tuple[float, float, list[float]]:
    """The very first tick (no cursor), the first after a code-location reload (a fresh code
    location with the cursor the daemon kept), and later ticks."""
    from catalog_assets.definitions import defs

    def evaluate(definitions, instance, cursor):
        sensor = definitions.resolve_sensor_def("catalog_refresh")
        resources = {"catalog_storage": definitions.resources["catalog_storage"]}
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=cursor
        ) as context:
            started = time.perf_counter()
            result = sensor.evaluate_tick(context)
            return time.perf_counter() - started, result.cursor

    with dg.DagsterInstance.ephemeral() as instance:
        definitions = defs()
        first, cursor = evaluate(definitions, instance, None)
        later = []
        for _ in range(repeat):
            seconds, cursor = evaluate(definitions, instance, cursor)
            later.append(seconds)
        reloaded, _ = evaluate(defs(), instance, cursor)
    return first, reloaded, later


def run(report: Report, repeat: int, quick: bool = False) -> None:
    entries = 60 if quick else ENTRIES
    with s3_server() as endpoint:
        for where in ("local", "S3 server"):
            for stale in (0, 10):
                with tempfile.TemporaryDirectory(prefix="bench-p10-") as scratch:
                    root = Path(scratch)
                    catalog_dir = synthetic_catalog(root / "catalog", entries)
                    (catalog_dir / "sources.yaml").write_text(json.dumps({"sources": []}))
                    storage, s3 = str(root / "storage"), {}
                    if where != "local":
                        storage, s3 = f"s3://bench/p10-{stale}", {"endpoint_url": endpoint}
                    seed_production(catalog_dir, storage, stale, s3)
                    with environment(
                        CATALOG_DIR=str(catalog_dir),
                        CATALOG_STORAGE_URL=storage,
                        CATALOG_HOME=str(root),
                        CATALOG_DEPLOYMENT="prod",
                        CATALOG_S3_ENDPOINT_URL=endpoint,
                    ):
                        first, reloaded, later = ticks(repeat)
                label = f"{entries} entries, {'nothing' if not stale else stale} stale, {where}"
                report.figures.append(Figure(f"P10 very first sensor tick, {label}", "s", [first]))
                report.figures.append(
                    Figure(f"P10 first tick after a reload, {label}", "s", [reloaded])
                )
                report.figures.append(Figure(f"P10 sensor tick, {label}", "s", later))
