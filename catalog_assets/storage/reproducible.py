"""Byte-for-byte reproducible model files.

A product's data version is the SHA-256 of its bytes, so the same model must give the same bytes:
otherwise every recompute looks like a change to everything downstream, and a branch's result can
never be promoted once production recomputes its upstream. skops names the arrays inside its zip
archive after ``id()`` or a random UUID, marks shared objects with their ``id()`` (``__id__``),
and zip entries carry the time they were written; all differ on every run. ``canonical_skops``
numbers members and object ids in the order ``schema.json`` first mentions them and gives every
member a fixed time: the same model, the same bytes, which skops reads back unchanged.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

SCHEMA = "schema.json"
#: The zip format's earliest date, as reproducible-build tools use.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _renamed(state: Any, members: set[str], names: dict[str, str], ids: dict[int, int]) -> Any:
    """``state`` with archive members and object ids renumbered in order of first mention (an
    object saved twice keeps one id, so skops still restores it as one shared object)."""
    if isinstance(state, dict):
        renamed = {}
        for key, value in state.items():
            if key == "file" and isinstance(value, str) and value in members:
                renamed[key] = names.setdefault(value, f"{len(names)}{PurePosixPath(value).suffix}")
            elif key == "__id__" and isinstance(value, int):
                renamed[key] = ids.setdefault(value, len(ids))
            else:
                renamed[key] = _renamed(value, members, names, ids)
        return renamed
    if isinstance(state, list):
        return [_renamed(item, members, names, ids) for item in state]
    return state


def canonical_skops(raw: bytes) -> bytes:
    """A skops archive with the same content and deterministic member names and times."""
    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        members = set(source.namelist()) - {SCHEMA}
        names: dict[str, str] = {}
        schema = _renamed(json.loads(source.read(SCHEMA)), members, names, {})
        unreferenced = sorted(members - set(names))
        if unreferenced:  # a layout this code does not know: keep skops' bytes as they are
            return raw
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
            for old, new in names.items():
                target.writestr(zipfile.ZipInfo(new, _EPOCH), source.read(old))
            target.writestr(zipfile.ZipInfo(SCHEMA, _EPOCH), json.dumps(schema, indent=2))
    return out.getvalue()
