"""``catalog new NAME --group G``: scaffold an entry that validates and materializes as it is."""

from __future__ import annotations

import argparse

from catalog_assets.catalog.problems import display_path
from catalog_assets.catalog.scaffold import new_entry
from catalog_assets.cli.common import comma_list, report_entry
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("new", help="scaffold a new catalog entry")
    parser.add_argument("name", help="the entry's name (a Python identifier)")
    parser.add_argument("--group", required=True, help="its group (folder)")
    parser.add_argument("--kind", choices=("dataset", "model"), default="dataset")
    parser.add_argument("--inputs", type=comma_list, default=[], help="comma-separated inputs")
    parser.add_argument("--owner", help="email or team:<name> (default: git config user.email)")
    parser.add_argument("--catalog", help="catalog directory (default: $CATALOG_DIR or notebooks/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    catalog_dir = args.catalog_path or Settings.from_env().catalog_dir
    made = new_entry(catalog_dir, args.name, args.group, args.kind, args.inputs, args.owner)
    print(f"created {display_path(made.notebook)} and {display_path(made.metadata)}")
    return report_entry(catalog_dir, args.name, made)
