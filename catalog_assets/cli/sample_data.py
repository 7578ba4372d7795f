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
    parser.add_argument(
        "--members",
        type=_members,
        default=SampleConfig.members,
        help=f"loyalty members to generate (at least {MIN_MEMBERS})",
    )
    parser.set_defaults(run=run)


MIN_MEMBERS = 100


def _members(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < MIN_MEMBERS:
        raise argparse.ArgumentTypeError(f"{value} is too few: give at least {MIN_MEMBERS}")
    return value


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    storage_url = args.storage_url or settings.deployment.storage_url
    config = SampleConfig(seed=args.seed, members=args.members)
    rows = write_sources(storage_url, config, settings.s3)
    summary = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    print(f"sample sources written to {storage_url}/sources/movio: {summary} rows")
    return 0
