"""``catalog purge --tenant ID``: erase every product computed from one tenant's data."""

from __future__ import annotations

import argparse

from catalog_assets.cli.common import open_store
from catalog_assets.errors import CatalogAssetsError
from catalog_assets.settings import Settings
from catalog_assets.storage.maintenance import purge_tenant


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "purge",
        help="erase a tenant's partitions and everything computed from them, in every area "
        "(after removing it from tenants.yaml)",
    )
    parser.add_argument("--tenant", required=True, help="the tenant id, as tenants.yaml had it")
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from catalog_assets.catalog.discovery import read_sources, read_tenants
    from catalog_assets.catalog.terms import TENANTS_FILE

    settings = Settings.from_env()
    problems: list = []
    sources, _ = read_sources(settings.catalog_dir / "sources.yaml", problems, settings.limits)
    tenants_file = settings.catalog_dir / TENANTS_FILE
    if any(
        t.id == args.tenant for t in read_tenants(tenants_file, sources, settings.limits, problems)
    ):
        raise CatalogAssetsError(
            f"{tenants_file}: tenant {args.tenant!r} is still listed; remove it first, or the "
            "next refresh computes its products again"
        )
    store = open_store(settings)
    result = purge_tenant(store, args.tenant, args.dry_run, settings.executed_dir)
    verb = "would delete" if args.dry_run else "deleted"
    for product in result.products:
        print(f"{verb} {product}")
    for key in result.deleted:
        print(f"{verb} {key}")
    print(
        f"{verb} {len(result.products)} current products and {len(result.deleted)} objects, "
        f"records and notebooks of tenant {args.tenant} ({store.deployment.storage_url}); "
        "source files are the provider's: erase its rows there too"
    )
    return 0
