"""``catalog sample-data``: (re)write the synthetic sample sources."""

from __future__ import annotations

import argparse

from catalog_assets.sample_data import SampleConfig, write_sources
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sample-data", help="write the synthetic sample sources")
    parser.add_argument(
        "--storage-url", help="storage root (default: $CATALOG_STORAGE_URL or .catalog/storage)"
    )
    parser.add_argument(
        "--seed", type=int, default=SampleConfig.seed, help="random seed (same seed, same data)"
    )
    parser.add_argument("--members", type=int, default=SampleConfig.members)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    storage_url = args.storage_url or settings.deployment.storage_url
    config = SampleConfig(seed=args.seed, members=args.members)
    rows = write_sources(storage_url, config, settings.s3)
    summary = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    print(f"sample sources written to {storage_url}/sources/movio: {summary} rows")
    return 0
