"""``catalog materialize``: bring this deployment's storage up to date now, in this process."""

from __future__ import annotations

import argparse
import os

from catalog_assets.cli.common import add_deployment_arguments, environ_for, open_store
from catalog_assets.errors import CatalogAssetsError
from catalog_assets.instance import prepare_instance
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "materialize",
        help="materialize the entries this deployment lacks or holds stale (every tenant "
        "partition the terms allow), or the named entries",
    )
    parser.add_argument(
        "entries", nargs="*", metavar="ENTRY", help="run these entries whatever their state"
    )
    add_deployment_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The definitions read the environment: it names the deployment the command line asks for.
    environ = environ_for(args)
    os.environ.clear()
    os.environ.update(environ)
    settings = Settings.from_env()
    home = prepare_instance(settings)
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    from catalog_assets.catalog.discovery import load_catalog
    from catalog_assets.definitions import defs
    from catalog_assets.orchestration.catchup import materialize_pending

    catalog = load_catalog(settings.catalog_dir, strict=settings.strict, limits=settings.limits)
    unknown = [name for name in args.entries if name not in catalog.entries]
    if unknown:
        raise CatalogAssetsError(
            f"no entry named {', '.join(unknown)} in {settings.catalog_dir} (see catalog validate)"
        )
    definitions = defs.load_fn()  # type: ignore[attr-defined]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ok = materialize_pending(
            definitions,
            catalog,
            open_store(settings),
            instance,
            lambda line: print(line, flush=True),
            only=args.entries or None,
        )
    return 0 if ok else 1
