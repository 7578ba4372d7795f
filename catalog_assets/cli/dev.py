"""``catalog instance`` and ``catalog dev``: each deployment on its own Dagster instance."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

from catalog_assets.catalog.terms import TENANTS_FILE
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
    settings = Settings.from_env()
    home = prepare_instance(settings)
    _sync_tenants(settings, home)
    print(home)
    return 0


def _sync_tenants(settings: Settings, home: Path) -> None:
    """The instance gets the tenant partitions of tenants.yaml now, so a per-tenant entry can be
    materialized at once (the tenants sensor keeps them in step afterwards)."""
    if not (settings.catalog_dir / TENANTS_FILE).exists():
        return
    from catalog_assets.catalog.discovery import inspect_catalog
    from catalog_assets.orchestration.catchup import sync_instance_tenants

    catalog, _ = inspect_catalog(settings.catalog_dir, limits=settings.limits)
    sync_instance_tenants(home, catalog)


def run_dev(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    home = prepare_instance(settings)
    _sync_tenants(settings, home)
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
    # A shell starting a background job (`make dev &` in a script) makes it ignore SIGINT, and
    # Dagster handles SIGTERM as it handles SIGINT: both would be ignored. Ignored signals survive
    # exec, so restore their defaults first.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    os.execv(
        dg,
        [dg, "dev", "--target-path", str(project), "--host", args.host, "--port", str(args.port)],
    )
    return 0  # not reached
