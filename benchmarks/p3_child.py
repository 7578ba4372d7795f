"""One P3 measurement in a fresh process: store then load a 1,000,000 x 10 frame.

Prints JSON: store and load seconds, bytes written, peak resident memory above the frame itself.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import dagster as dg
import numpy as np
import pandas as pd


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "member_id": np.arange(rows, dtype=np.int64),
            "session_id": rng.integers(0, 10**7, rows),
            "tickets": rng.integers(1, 5, rows),
            "visits": rng.integers(0, 100, rows),
            "amount": rng.random(rows) * 80,
            "score": rng.random(rows),
            "trend": rng.normal(size=rows),
            "chain_id": rng.choice(["starlight", "roxy", "harbour"], rows),
            "genre": rng.choice(["Action", "Comedy", "Drama", "Horror", "Sci-Fi"], rows),
            "purchased_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10**7, rows), unit="s"),
        }
    )


def io_manager(variant: str, target: str, endpoint: str | None):
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    from catalog_assets.orchestration.io_manager import CatalogIOManager
    from catalog_assets.orchestration.resources import CatalogStorage

    if variant == "ours_local":
        return CatalogIOManager(storage=CatalogStorage(storage_url=target))
    if variant == "filesystem":
        return dg.FilesystemIOManager(base_dir=target)
    if variant == "ours_s3":
        return CatalogIOManager(
            storage=CatalogStorage(storage_url=target, s3_endpoint_url=endpoint)
        )
    return S3PickleIOManager(
        s3_resource=S3Resource(endpoint_url=endpoint),
        s3_bucket=target.split("/")[2],
        s3_prefix="pickle",
    )


def rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main(variant: str, target: str, endpoint: str | None, rows: int) -> None:
    import pyarrow.parquet  # noqa: F401 - both sides' libraries are imported before the clock

    data = frame(rows)
    manager = io_manager(variant, target, endpoint)
    if isinstance(manager, dg.ConfigurableIOManagerFactory):
        manager = manager.create_io_manager(dg.build_init_resource_context())
    key = dg.AssetKey("frame")
    baseline = rss_kb()
    started = time.perf_counter()
    manager.handle_output(dg.build_output_context(asset_key=key), data)
    stored = time.perf_counter()
    loaded = manager.load_input(
        dg.build_input_context(
            asset_key=key, upstream_output=dg.build_output_context(asset_key=key)
        )
    )
    done = time.perf_counter()
    assert len(loaded) == rows
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "store": stored - started,
                "load": done - stored,
                "peak_mb": max(peak - baseline, 0) / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] or None, int(sys.argv[4]))
