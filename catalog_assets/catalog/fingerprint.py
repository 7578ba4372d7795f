"""An entry's three fingerprints: code, checks and descriptive metadata.

* ``code_version`` covers what decides the product: the source of every code cell, in order, the
  metadata fields marked ``code`` in the schema (kind, inputs, params, format, trusted types), and
  how each source it reads is read (location, format, read options), and the data-usage terms
  that govern it (which rows and columns its notebook sees). It is the Dagster code
  version, so only a change that can change the product marks the asset as changed.
* ``checks_version`` covers the declared checks: a change re-runs checks, never the notebook.
* ``metadata_version`` covers description, owner, tags, schedule and group: nothing runs.

Outputs, execution counts, cell ids, markdown and kernel/notebook metadata change none of them, so
re-running a notebook in Jupyter or saving it with outputs never marks the asset as changed. Values
are hashed in canonical form (parsed and re-serialised), so comments and key order in the YAML file
do not count, while any change of a value does.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any

from catalog_assets.catalog.discovery import Entry
from catalog_assets.catalog.schema import EntryMetadata

# Bump when a recipe changes, so every entry's versions change with it.
_RECIPE = "catalog-fingerprint/3"


@dataclass(frozen=True)
class Versions:
    code: str
    checks: str
    metadata: str


def fields_of(kind: str) -> tuple[str, ...]:
    """The metadata fields that feed the ``kind`` fingerprint (code, checks or metadata)."""
    return tuple(
        name
        for name, info in EntryMetadata.model_fields.items()
        if (info.json_schema_extra or {}).get("fingerprint") == kind
    )


def _digest(kind: str, values: dict[str, Any], cells: tuple[str, ...] = ()) -> str:
    digest = hashlib.sha256(f"{_RECIPE}:{kind}".encode())
    for source in cells:
        encoded = source.encode("utf-8")
        # Length-prefix each cell so moving a line across a cell boundary changes the hash.
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    digest.update(canonical.encode("utf-8"))
    return digest.hexdigest()[:16]


def _values(metadata: EntryMetadata, kind: str) -> dict[str, Any]:
    dumped = metadata.model_dump(mode="json", include=set(fields_of(kind)))
    if "inputs" in dumped:
        dumped["inputs"] = sorted(dumped["inputs"])  # their order changes nothing
    return dumped


#: Versions by entry object: the asset factory, the refresh sensor and the schedules each ask for
#: every entry's versions when the code location loads. Entries are immutable; a record goes when
#: its entry does (a reloaded code location keeps only its own).
_computed: dict[int, tuple[weakref.ref, Versions]] = {}


def versions(entry: Entry) -> Versions:
    key = id(entry)
    cached = _computed.get(key)
    if cached is not None and cached[0]() is entry:
        return cached[1]
    found = _versions(entry)
    _computed[key] = (weakref.ref(entry, lambda _, k=key: _computed.pop(k, None)), found)
    return found


def _versions(entry: Entry) -> Versions:
    meta = entry.metadata
    reads = {
        name: source.model_dump(mode="json", include={"location", "format", "read"})
        for name, source in sorted(entry.input_sources.items())
    }
    code = {**_values(meta, "code"), "source_reads": reads}
    if entry.governance is not None and entry.governance.governed:
        # The terms decide which rows and columns the notebook sees: they change the product.
        code["terms"] = entry.governance.fingerprint()
    return Versions(
        code=_digest("code", code, entry.notebook.code_cells),
        checks=_digest("checks", _values(meta, "checks")),
        metadata=_digest("metadata", {**_values(meta, "metadata"), "group": entry.group}),
    )


def code_version(entry: Entry) -> str:
    """The entry's Dagster ``code_version``: 16 hex characters of a SHA-256."""
    return versions(entry).code
