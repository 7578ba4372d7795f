"""Storage keys: ``/``-separated relative names, validated before any backend touches them.

Both backends call ``validate`` on every key they are given, so no caller (a CLI argument, a ref
read from storage, a crafted catalog) can name something outside the storage root or alias another
key: no ``..`` or ``.`` segments, no absolute paths, no backslashes, no empty segments, no control
characters.
"""

from __future__ import annotations

import re

from catalog_assets.errors import StorageError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_LENGTH = 1024


def validate(key: str) -> str:
    """Return ``key`` unchanged if it is a safe storage key, else raise ``StorageError``."""
    problem = _problem(key)
    if problem:
        raise StorageError(f"refusing storage key {key!r}: {problem}")
    return key


def _problem(key: str) -> str | None:
    if not isinstance(key, str) or not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"longer than {MAX_KEY_LENGTH} characters"
    if "\\" in key:
        return "backslashes are not allowed"
    if _CONTROL.search(key):
        return "control characters are not allowed"
    if key.startswith("/"):
        return "absolute keys are not allowed"
    segments = key.split("/")
    if any(segment == "" for segment in segments):
        return "empty path segments ('//' or a trailing '/') are not allowed"
    if any(segment in (".", "..") for segment in segments):
        return "'.' and '..' segments are not allowed"
    return None


def join(*parts: str) -> str:
    """Join key parts with ``/`` and validate the result."""
    return validate("/".join(parts))


def is_under(key: str, prefix: str) -> bool:
    """Whether ``key`` lies in the folder ``prefix``, compared segment by segment."""
    key_segments = validate(key).split("/")
    prefix_segments = validate(prefix).split("/")
    return key_segments[: len(prefix_segments)] == prefix_segments and len(key_segments) > len(
        prefix_segments
    )
