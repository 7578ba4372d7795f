"""``catalog diff [--base REF] [--head REF] [--json]``: what a branch changes, entry by entry."""

from __future__ import annotations

import argparse
import json

from catalog_assets.cli.common import table
from catalog_assets.review.catalogs import catalog_at
from catalog_assets.review.changes import Changes, classify, to_json
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "diff", help="classify each entry's change between two refs (new, code, checks, ...)"
    )
    parser.add_argument("--base", help="the ref to compare with (default: the production branch)")
    parser.add_argument("--head", help="the ref to compare (default: the working tree)")
    parser.add_argument("--json", action="store_true", help="the stable JSON form")
    parser.add_argument("--catalog", help="catalog directory (default: $CATALOG_DIR or notebooks/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    catalog_dir = args.catalog_path or settings.catalog_dir
    base_ref = args.base or settings.prod_branch
    limits = settings.limits
    with (
        catalog_at(catalog_dir, base_ref, limits) as base,
        catalog_at(catalog_dir, args.head, limits) as head,
    ):
        changes = classify(base.catalog, head.catalog)
        if args.json:
            print(json.dumps(to_json(changes, base.to_json(), head.to_json()), indent=1))
            return 0
        print(f"catalog diff {base.ref}..{head.ref}")
        print_changes(changes)
    return 0


def print_changes(changes: Changes) -> None:
    """The compact table of ``catalog diff`` (also printed by ``catalog preview``)."""
    if changes.entries:
        rows = [["entry", "group", "change", "runs", "what"]]
        for change in changes.entries:
            what = (
                "; ".join(change.problems) if change.kind == "invalid" else ", ".join(change.what)
            )
            rows.append([change.name, change.group, change.kind, change.runs, what])
        print(table(rows))
    for source in changes.sources:
        detail = f" ({', '.join(source.what)})" if source.what else ""
        print(f"source {source.name}: {source.kind}{detail}")
    summary = changes.summary()
    counted = ", ".join(f"{n} {k}" for k, n in summary.items() if n and k != "unchanged")
    print(
        f"{len(changes.entries)} entries change"
        + (f" ({counted})" if counted else "")
        + f"; {summary['unchanged']} unchanged"
    )
