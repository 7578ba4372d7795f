"""An entry's code version: what decides its product, and nothing that merely records a run.

The fingerprint covers the source of every code cell, in order, and the validated metadata.
Outputs, execution counts, cell ids, markdown and kernel/notebook metadata are left out, so
re-running a notebook in Jupyter or saving it with outputs never marks the asset as changed.
The metadata is hashed in canonical form (parsed and re-serialised), so comments and key order in
the YAML file do not count, while any change of a value does.
"""

from __future__ import annotations

import hashlib
import json

from catalog_assets.catalog.discovery import Entry
from catalog_assets.catalog.notebooks import NotebookCode
from catalog_assets.catalog.schema import EntryMetadata

# Bump when the fingerprint's recipe changes, so every entry's code version changes with it.
_RECIPE = "catalog-fingerprint/1"


def code_version(entry: Entry) -> str:
    """The entry's Dagster ``code_version``: 16 hex characters of a SHA-256."""
    return fingerprint(entry.notebook, entry.metadata)


def fingerprint(notebook: NotebookCode, metadata: EntryMetadata) -> str:
    digest = hashlib.sha256(_RECIPE.encode())
    for source in notebook.code_cells:
        encoded = source.encode("utf-8")
        # Length-prefix each cell so moving a line across a cell boundary changes the hash.
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    canonical = json.dumps(metadata.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    digest.update(canonical.encode("utf-8"))
    return digest.hexdigest()[:16]
