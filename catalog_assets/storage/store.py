"""Where products live: one ``CatalogStore`` over thin backends (a local directory, S3).

Layout under the storage root::

    sources/<location>                 raw provider data, read-only for every deployment
    local/<name>.<ext>                 a laptop's products
    prod/<name>.<ext>                  production's products
    branches/<slug>/<name>.<ext>       one scientist branch's products
    <area>/.staging/<name>.<run>.<ext> a product written by a kernel, not yet committed

A notebook kernel stages its product once; the IO manager commits it by an atomic rename (a
server-side copy on S3). Nothing is ever visible half-written, and a failed run leaves the previous
version. No Dagster imports: the kernel uses this module.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_assets.errors import StorageError
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.backend import Backend

SOURCES_PREFIX = "sources"
STAGING = ".staging"
EXECUTED = ".executed"


@dataclass(frozen=True)
class Located:
    """A stored product: its key, format, and the deployment area it was found in."""

    key: str
    format: str
    area: str


@dataclass(frozen=True)
class Staged:
    """A product a notebook kernel already wrote to a staging object, awaiting commit."""

    staging_key: str
    format: str


class CatalogStore:
    """Products of one deployment, with a branch's reads deferring to production."""

    def __init__(self, backend: Backend, deployment: Deployment):
        self.backend = backend
        self.deployment = deployment

    def key(self, name: str, fmt: str, area: str | None = None) -> str:
        return f"{area or self.deployment.prefix}/{name}.{formats.EXTENSIONS[fmt]}"

    def source_key(self, location: str) -> str:
        return f"{SOURCES_PREFIX}/{location}"

    def staging_key(self, name: str, run_id: str, fmt: str) -> str:
        return f"{self.deployment.prefix}/{STAGING}/{name}.{run_id}.{formats.EXTENSIONS[fmt]}"

    def locate(self, name: str) -> Located | None:
        """The product ``name`` as this deployment reads it: its own copy, else production's."""
        for area in self.deployment.read_prefixes:
            for key in self.backend.list(f"{area}/{name}."):
                extension = key.rsplit(".", 1)[-1]
                if key == f"{area}/{name}.{extension}" and extension in formats.FORMAT_OF_EXTENSION:
                    return Located(key, formats.FORMAT_OF_EXTENSION[extension], area)
        return None

    def _check_writable(self, key: str) -> None:
        if not key.startswith(f"{self.deployment.prefix}/"):
            raise StorageError(
                f"refusing to write {self.backend.uri(key)}: the {self.deployment.label} "
                f"deployment writes only under {self.deployment.prefix}/"
            )

    def write(self, key: str, value: Any, fmt: str) -> None:
        """Write ``value`` to ``key`` once, atomically."""
        self._check_writable(key)
        with self.backend.writing(key) as path:
            formats.dump(value, fmt, path)

    def read(self, key: str, fmt: str) -> Any:
        with self.backend.reading(key) as path:
            return formats.load(path, fmt)

    def commit(self, staging_key: str, name: str, fmt: str) -> str:
        """Publish a staged product as ``name``; other formats of the same name are removed."""
        target = self.key(name, fmt)
        self._check_writable(staging_key)
        self._check_writable(target)
        self.backend.rename(staging_key, target)
        for key in self.backend.list(f"{self.deployment.prefix}/{name}."):
            if key != target and key.rsplit(".", 1)[0] == f"{self.deployment.prefix}/{name}":
                self.backend.delete(key)
        return target

    def keep_file(self, path: Path, key: str) -> None:
        """Store a local file (an executed notebook) as ``key`` in this deployment's area."""
        self._check_writable(key)
        with self.backend.writing(key) as target:
            shutil.copyfile(path, target)

    def discard(self, key: str) -> None:
        self._check_writable(key)
        self.backend.delete(key)
