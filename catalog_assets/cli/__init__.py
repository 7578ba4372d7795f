"""The ``catalog`` command: one module per subcommand, each thin over the packages.

``main`` is the one place that turns a user error (``CatalogAssetsError``) into one line on stderr
and exit code 2; a command reporting catalog problems exits 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from catalog_assets.cli import (
    adopt,
    dev,
    diff,
    gc,
    history,
    materialize,
    new,
    policy,
    preview,
    purge,
    reload,
    rollback,
    sample_data,
    validate,
)
from catalog_assets.errors import CatalogAssetsError, redact
from catalog_assets.settings import secret_values

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
    purge,
    policy,
    materialize,
    dev,
    reload,
)


class _Parser(argparse.ArgumentParser):
    """argparse, saying a usage mistake in one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="catalog", description="Work with the notebook catalog and its storage.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    args = parser.parse_args(argv)
    args.catalog_path = Path(args.catalog) if getattr(args, "catalog", None) else None
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not valid UTF-8 is printed escaped rather than crashing the report.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (``catalog history --json | head``): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CatalogAssetsError, OSError) as error:
        # A user error (or a file the user named that cannot be read or written): one line.
        if args.debug:
            raise
        message = error if isinstance(error, CatalogAssetsError) else _os_error(error)
        print(
            f"catalog {args.command}: {redact(str(message), secret_values(os.environ))}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"catalog {args.command}: interrupted", file=sys.stderr)
        return 130


def _os_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}"
