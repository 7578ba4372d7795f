"""Reading catalog files that may be hostile: never block, never follow a link out, never read
more than a limit, never execute YAML.

Every failure becomes a ``Problem`` naming the file, so one bad file never stops the rest of the
catalog from being read and reported.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalog_assets.catalog.problems import Problem

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Limits:
    """The largest metadata file and notebook the catalog reads (``CATALOG_MAX_METADATA_KB``,
    ``CATALOG_MAX_NOTEBOOK_MB``)."""

    metadata_bytes: int = 256 * 1024
    notebook_bytes: int = 20 * 1024 * 1024


def _size(count: int) -> str:
    amount, unit = (count / 1024, "KB") if count < 1024 * 1024 else (count / 2**20, "MB")
    return f"{amount:.1f}".removesuffix(".0") + f" {unit}"


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(
    path: Path, root: Path, limit: int, setting: str, problems: list[Problem]
) -> bytes | None:
    """The bytes of a catalog file, or None with a problem: a link leaving the catalog or looping,
    something that is not a regular file (a FIFO, a device, a directory), a file over ``limit``."""
    field = "file"
    if path.is_symlink():
        try:
            target = Path(os.path.realpath(path, strict=True))
            kind = _kind(target.stat().st_mode)
        except OSError as error:
            reason = "a loop" if error.errno == errno.ELOOP else error.strerror
            problems.append(
                Problem(path, field, f"a symbolic link that cannot be followed: {reason}")
            )
            return None
        if kind is not None:
            problems.append(
                Problem(path, field, f"a symbolic link to {target}, {kind}, not a notebook file")
            )
            return None
        if not target.is_relative_to(Path(os.path.realpath(root))):
            problems.append(
                Problem(
                    path,
                    field,
                    f"a symbolic link to {target}, outside the catalog; put the file itself here",
                )
            )
            return None
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError:
        problems.append(Problem(path, field, "is a directory; a catalog file must be a file"))
        return None
    except OSError as error:
        reason = "a symbolic link loop" if error.errno == errno.ELOOP else error.strerror
        problems.append(Problem(path, field, f"cannot read: {reason}"))
        return None
    try:
        info = os.fstat(descriptor)
        kind = _kind(info.st_mode)
        if kind is not None:
            problems.append(Problem(path, field, f"is {kind}; a catalog file must be a file"))
            return None
        if info.st_size > limit:
            problems.append(
                Problem(
                    path,
                    field,
                    f"is {_size(info.st_size)}, over the limit of {_size(limit)} "
                    f"({setting} raises it)",
                )
            )
            return None
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:  # grew while it was read
            problems.append(
                Problem(path, field, f"is over the limit of {_size(limit)} ({setting} raises it)")
            )
            return None
        return data
    except OSError as error:
        problems.append(Problem(path, field, f"cannot read: {error.strerror}"))
        return None
    finally:
        os.close(descriptor)


class _UniqueKeyLoader(_SAFE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing a mapping that repeats a key (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML's signature
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen[key] = True
        return super().construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping
)


def load_yaml(path: Path, root: Path, limits: Limits, problems: list[Problem]) -> tuple[bool, Any]:
    """(readable, data) of a YAML file; problems for anything unreadable, unsafe or invalid."""
    data = read_bytes(path, root, limits.metadata_bytes, "CATALOG_MAX_METADATA_KB", problems)
    if data is None:
        return False, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(
            Problem(path, "file", f"is not UTF-8 text (byte {error.start}); save it as UTF-8")
        )
        return False, None
    try:
        return True, yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
    except RecursionError:
        problems.append(Problem(path, "yaml", "invalid YAML: nested too deeply"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        problems.append(Problem(path, where, f"invalid YAML: {reason}"))
    return False, None


def load_json(path: Path, root: Path, limits: Limits, problems: list[Problem]) -> Any | None:
    data = read_bytes(path, root, limits.notebook_bytes, "CATALOG_MAX_NOTEBOOK_MB", problems)
    if data is None:
        return None
    if not data.strip():
        problems.append(
            Problem(path, "notebook", "the file is empty; it is not a Jupyter notebook")
        )
        return None
    try:
        return json.loads(data)
    except RecursionError:
        problems.append(
            Problem(path, "notebook", "unreadable as a Jupyter notebook: nested too deeply")
        )
    except (ValueError, UnicodeDecodeError) as error:
        problems.append(Problem(path, "notebook", f"unreadable as a Jupyter notebook: {error}"))
    return None
