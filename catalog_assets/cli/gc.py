"""``catalog gc``: delete objects no ref and no recent history points to, and dead writes."""

from __future__ import annotations

import argparse

from catalog_assets.cli.common import open_store, size
from catalog_assets.settings import Settings
from catalog_assets.storage.maintenance import collect


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "gc", help="delete unreferenced product versions and leftovers of interrupted writes"
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        default=7.0,
        help="keep versions any history record younger than this points to, and any object "
        "younger than this (default 7; 0 is safe only while no run is writing)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.keep_days < 0:
        from catalog_assets.errors import CatalogAssetsError

        raise CatalogAssetsError(f"--keep-days must be 0 or more, not {args.keep_days:g}")
    store = open_store(Settings.from_env())
    result = collect(store, args.keep_days, args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for key, count in result.objects:
        print(f"{verb} {store.backend.uri(key)} ({size(count)})")
    for leftover in result.leftovers:
        print(f"{verb} leftover {leftover}")
    print(
        f"{verb} {len(result.objects)} objects ({size(result.freed)}) and "
        f"{len(result.leftovers)} leftovers; kept {result.kept} objects "
        f"({store.deployment.storage_url})"
    )
    return 0
