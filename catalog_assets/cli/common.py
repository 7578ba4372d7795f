"""What several commands share: choosing a deployment from the command line, formatting."""

from __future__ import annotations

import argparse
import os

from catalog_assets.instance import materialize_command
from catalog_assets.settings import Settings
from catalog_assets.storage.store import CatalogStore


def add_deployment_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "--deployment",
        choices=("local", "branch", "prod"),
        default=default,
        help="whose storage area (default: the one the environment names"
        + (f", else {default})" if default else ")"),
    )
    parser.add_argument("--branch", help="the git branch, for --deployment branch")


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings of the environment, with the deployment the command line asks for."""
    return Settings.from_env(environ_for(args))


def environ_for(args: argparse.Namespace) -> dict[str, str]:
    """The environment, with the deployment the command line asks for."""
    environ = dict(os.environ)
    if getattr(args, "branch", None):
        environ["CATALOG_BRANCH"] = args.branch
        environ["CATALOG_DEPLOYMENT"] = "branch"
    elif getattr(args, "deployment", None):
        environ.pop("CATALOG_BRANCH", None)
        environ.pop("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", None)
        environ["CATALOG_DEPLOYMENT"] = args.deployment
    return environ


def open_store(settings: Settings) -> CatalogStore:
    return CatalogStore.open(settings.deployment, settings.s3)


def size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns, the first row a header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def report_entry(catalog_dir, name: str, made) -> int:
    """What is left to do for a new entry, and what ``catalog validate`` says of it; exit code."""
    from catalog_assets.catalog.discovery import inspect_catalog

    for item in made.todo:
        print(f"  to do: {item}")
    _, problems = inspect_catalog(catalog_dir, static=True, limits=Settings.from_env().limits)
    own = [p for p in problems if p.path in (made.notebook, made.metadata)]
    for problem in own:
        print(f"  {problem}")
    if any(p.severity == "error" for p in own):
        print(f"{name} does not validate yet: fix the problems above, then `catalog validate`")
        return 1
    print(
        f"{name} validates; materialize it from the UI or with "
        f"`{materialize_command(name, Settings.from_env())}`"
    )
    return 0
