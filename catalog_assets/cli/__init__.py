"""The ``catalog`` command: one module per subcommand, each thin over the packages.

``main`` is the one place that turns a user error (``CatalogAssetsError``) into one line on stderr
and exit code 2; a command reporting catalog problems exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from catalog_assets.cli import (
    adopt,
    dev,
    diff,
    gc,
    history,
    new,
    preview,
    reload,
    rollback,
    sample_data,
    validate,
)
from catalog_assets.errors import CatalogAssetsError

COMMANDS = (
    validate,
    new,
    adopt,
    diff,
    preview,
    sample_data,
    history,
    rollback,
    gc,
    dev,
    reload,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="catalog", description="Work with the notebook catalog and its storage."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    args = parser.parse_args(argv)
    args.catalog_path = Path(args.catalog) if getattr(args, "catalog", None) else None
    try:
        return args.run(args)
    except CatalogAssetsError as error:
        if args.debug:
            raise
        print(f"catalog {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"catalog {args.command}: interrupted", file=sys.stderr)
        return 130
