"""``catalog adopt PATH.ipynb --group G``: turn an existing notebook into a catalog entry."""

from __future__ import annotations

import argparse
from pathlib import Path

from catalog_assets.catalog.scaffold import adopt
from catalog_assets.cli.common import comma_list, report_entry
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("adopt", help="turn an existing notebook into a catalog entry")
    parser.add_argument("notebook", type=Path, help="the notebook to adopt (it is copied)")
    parser.add_argument("--group", required=True, help="its group (folder)")
    parser.add_argument("--name", help="the entry's name (default: from the file name)")
    parser.add_argument("--kind", choices=("dataset", "model"), default="dataset")
    parser.add_argument("--inputs", type=comma_list, default=[], help="comma-separated inputs")
    parser.add_argument("--owner", help="email or team:<name> (default: git config user.email)")
    parser.add_argument("--catalog", help="catalog directory (default: $CATALOG_DIR or notebooks/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    catalog_dir = args.catalog_path or Settings.from_env().catalog_dir
    made = adopt(
        args.notebook, catalog_dir, args.group, args.inputs, args.owner, args.name, args.kind
    )
    print(f"adopted {args.notebook} as {made.notebook.stem}:")
    for change in made.changes:
        print(f"  - {change}")
    return report_entry(catalog_dir, made.notebook.stem, made)
