"""``catalog instance`` and ``catalog dev``: each deployment on its own Dagster instance."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from catalog_assets.errors import CatalogAssetsError
from catalog_assets.instance import prepare_instance
from catalog_assets.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    instance = commands.add_parser(
        "instance", help="print (creating it) the DAGSTER_HOME of this deployment's instance"
    )
    instance.set_defaults(run=run_instance)
    dev = commands.add_parser("dev", help="start the Dagster UI and daemon for this deployment")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(run=run_dev)


def run_instance(args: argparse.Namespace) -> int:
    print(prepare_instance(Settings.from_env()))
    return 0


def run_dev(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    home = prepare_instance(settings)
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or shutil.which(
        "dagster"
    )
    if dagster is None:
        raise CatalogAssetsError("the dagster command is not installed in this environment")
    print(
        f"catalog dev: the {settings.deployment.label} deployment, storage "
        f"{settings.deployment.storage_url}/{settings.deployment.area}, Dagster instance {home}",
        flush=True,
    )
    os.chdir(settings.home)
    os.environ["DAGSTER_HOME"] = str(home)
    os.execv(dagster, [dagster, "dev", "-h", args.host, "-p", str(args.port)])
    return 0  # not reached
