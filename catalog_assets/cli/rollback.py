"""``catalog rollback ENTRY --to VERSION``: repoint an entry's ref at an earlier version.

For operators, on production by default. The rollback is recorded in that deployment's Dagster
instance as a materialization saying so, with the version's data version.
"""

from __future__ import annotations

import argparse

from catalog_assets.cli.common import add_deployment_arguments, open_store, settings_for
from catalog_assets.instance import instance_dir
from catalog_assets.storage.maintenance import rollback


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("rollback", help="make an earlier version current again")
    parser.add_argument("entry")
    parser.add_argument("--to", required=True, metavar="VERSION", help="a version from history")
    parser.add_argument("--partition", help="one partition of a partitioned entry")
    add_deployment_arguments(parser, default="prod")
    parser.set_defaults(run=run, deployment="prod")


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    store = open_store(settings)
    rolled, previous = rollback(store, args.entry, args.to, args.partition)
    was = previous.short if previous else "nothing"
    print(f"{args.entry} in {store.area}: now {rolled.short} (was {was})")
    from catalog_assets.orchestration.events import open_instance, record_version

    home = settings.dagster_home or instance_dir(settings)
    record_version(
        open_instance(home),
        rolled,
        f"Rolled back to version {rolled.short} (was {was}) with `catalog rollback`",
    )
    print(f"recorded in the Dagster instance at {home}")
    return 0
