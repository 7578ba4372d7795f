"""``catalog history ENTRY``: every version of an entry's product in an area, with provenance."""

from __future__ import annotations

import argparse
import json

from catalog_assets.cli.common import (
    add_deployment_arguments,
    open_store,
    settings_for,
    size,
    table,
)
from catalog_assets.errors import CatalogAssetsError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("history", help="list the versions of an entry's product")
    parser.add_argument("entry")
    parser.add_argument("--partition", help="one partition of a partitioned entry")
    parser.add_argument("--json", action="store_true", help="every record, as JSON")
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(settings_for(args))
    records = store.history(args.entry, args.partition)
    if not records:
        raise CatalogAssetsError(
            f"{args.entry} has no versions in {store.area} ({store.deployment.storage_url})"
        )
    current = store.read_ref(args.entry, args.partition)
    current_sha = current[0].sha256 if current else None
    newest_first = list(reversed(records))
    if args.json:
        print(json.dumps([json.loads(r.model_dump_json()) for r in newest_first], indent=1))
        return 0
    rows = [["", "version", "created (UTC)", "event", "format", "size", "code", "run", "inputs"]]
    marked = False
    for ref in newest_first:
        is_current = ref.sha256 == current_sha and not marked
        marked = marked or is_current
        inputs = ", ".join(
            f"{name}@{v.version[:12]}" + (f" ({v.area})" if v.kind == "entry" else "")
            for name, v in sorted(ref.inputs.items())
        )
        event = ref.event
        if ref.promoted_from:
            event += f" from {ref.promoted_from.area}"
        if ref.rolled_back_from:
            event += f" (was {ref.rolled_back_from[:12]})"
        rows.append(
            [
                "*" if is_current else "",
                ref.short,
                f"{ref.created_at:%Y-%m-%d %H:%M:%S}",
                event,
                ref.format,
                size(ref.size),
                ref.code_version or "-",
                (ref.run_id or "-")[:8],
                inputs or "-",
            ]
        )
    print(f"{args.entry} in {store.area} ({len(records)} versions; * = current)")
    print(table(rows))
    return 0
