"""The ``catalog`` command: validate the catalog, write the sample sources."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from catalog_assets.catalog import default_catalog_dir, display_path, inspect_catalog
from catalog_assets.deployment import default_storage_url
from catalog_assets.sample_data import SampleConfig
from catalog_assets.storage import s3_options


def _validate(args: argparse.Namespace) -> int:
    root = args.catalog or default_catalog_dir()
    catalog, problems = inspect_catalog(root)
    if problems:
        for problem in problems:
            print(problem)
        count = len(problems)
        print(
            f"{count} problem{'s' if count != 1 else ''} in {display_path(root)}", file=sys.stderr
        )
        return 1
    groups = {entry.group for entry in catalog.entries.values()}
    print(
        f"{display_path(root)}: OK, {len(catalog.entries)} entries in {len(groups)} groups, "
        f"{len(catalog.sources)} sources"
    )
    return 0


def _sample_data(args: argparse.Namespace) -> int:
    from catalog_assets.sample_data import write_sources

    storage_url = args.storage_url or default_storage_url()
    config = SampleConfig(seed=args.seed, members=args.members)
    rows = write_sources(storage_url, config, s3_options(os.environ))
    summary = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    print(f"sample sources written to {storage_url}/sources/movio: {summary} rows")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="catalog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check every catalog entry; exit 1 on problems")
    validate.add_argument(
        "--catalog", help="catalog directory (default: $CATALOG_DIR or notebooks/)"
    )
    validate.set_defaults(run=_validate)

    sample = commands.add_parser("sample-data", help="write the synthetic sample sources")
    sample.add_argument(
        "--storage-url", help="storage root (default: $CATALOG_STORAGE_URL or .catalog/storage)"
    )
    sample.add_argument(
        "--seed", type=int, default=SampleConfig.seed, help="random seed (same seed, same data)"
    )
    sample.add_argument("--members", type=int, default=SampleConfig.members)
    sample.set_defaults(run=_sample_data)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
