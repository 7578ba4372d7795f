"""``catalog gc``: delete objects no ref and no recent history points to, and dead writes."""

from __future__ import annotations

import argparse

from catalog_assets.cli.common import open_store, size
from catalog_assets.settings import Settings
from catalog_assets.storage.maintenance import collect


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "gc",
        help="delete unreferenced product versions, leftovers of interrupted writes, and versions "
        "past their retention",
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


def retention_days(settings: Settings) -> dict[str, float]:
    """Each entry's retention in days, from the terms of the sources it reads (the catalog must
    load: collecting without knowing what must expire would keep data past its terms)."""
    from catalog_assets.catalog.discovery import load_catalog

    catalog = load_catalog(settings.catalog_dir, strict=False, limits=settings.limits)
    found = {}
    for name, entry in catalog.entries.items():
        days = entry.governance.retention_days() if entry.governance is not None else None
        if days:
            found[name] = float(days)
    return found


def run(args: argparse.Namespace) -> int:
    if args.keep_days < 0:
        from catalog_assets.errors import CatalogAssetsError

        raise CatalogAssetsError(f"--keep-days must be 0 or more, not {args.keep_days:g}")
    settings = Settings.from_env()
    store = open_store(settings)
    result = collect(
        store,
        args.keep_days,
        args.dry_run,
        retention=retention_days(settings),
        local_executed=settings.executed_dir,
    )
    verb = "would delete" if args.dry_run else "deleted"
    for key in result.expired:
        print(f"{verb} {key} (past its retention)")
    for key, count in result.objects:
        print(f"{verb} {store.backend.uri(key)} ({size(count)})")
    for leftover in result.leftovers:
        print(f"{verb} leftover {leftover}")
    print(
        f"{verb} {len(result.objects)} objects ({size(result.freed)}) and "
        f"{len(result.leftovers)} leftovers, {len(result.expired)} expired records and "
        f"notebooks; kept {result.kept} objects "
        f"({store.deployment.storage_url})"
    )
    return 0
