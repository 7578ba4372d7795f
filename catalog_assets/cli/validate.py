"""``catalog validate``: every problem of the catalog, one line each; exit 1 if any."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from catalog_assets.catalog.discovery import inspect_catalog
from catalog_assets.catalog.problems import display_path
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("validate", help="check every catalog entry; exit 1 on problems")
    parser.add_argument("--catalog", help="catalog directory (default: $CATALOG_DIR or notebooks/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    root = Path(args.catalog) if args.catalog else settings.catalog_dir
    catalog, problems = inspect_catalog(root, static=True, limits=settings.limits)
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors:
        print(
            f"{_count(errors, 'problem')}"
            + (f" and {_count(warnings, 'warning')}" if warnings else "")
            + f" in {display_path(root)}",
            file=sys.stderr,
        )
        return 1
    groups = {entry.group for entry in catalog.entries.values()}
    print(
        f"{display_path(root)}: OK, {len(catalog.entries)} entries in {len(groups)} groups, "
        f"{len(catalog.sources)} sources" + (f", {_count(warnings, 'warning')}" if warnings else "")
    )
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"
