"""``catalog instance`` and ``catalog dev``: each deployment on its own Dagster instance."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from catalog_assets.errors import CatalogAssetsError
from catalog_assets.instance import prepare_instance
from catalog_assets.settings import Settings, project_checkout


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
    dg = shutil.which("dg", path=os.path.dirname(sys.executable)) or shutil.which("dg")
    if dg is None:
        raise CatalogAssetsError("the dg command (dagster-dg-cli) is not installed here")
    print(
        f"catalog dev: the {settings.deployment.label} deployment, storage "
        f"{settings.deployment.storage_url}/{settings.deployment.area}, Dagster instance {home}",
        flush=True,
    )
    os.chdir(settings.home)
    os.environ["DAGSTER_HOME"] = str(home)
    # `dg dev` (which `dagster dev` now defers to) stops cleanly on Ctrl-C or SIGTERM. Its code
    # server works in the checkout, where the UI's "View notebook" finds executed notebooks.
    project = project_checkout() or settings.home
    os.execv(
        dg,
        [dg, "dev", "--target-path", str(project), "--host", args.host, "--port", str(args.port)],
    )
    return 0  # not reached
