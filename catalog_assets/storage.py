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

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from catalog_assets import formats
from catalog_assets.deployment import Deployment

SOURCES_PREFIX = "sources"
STAGING = ".staging"
EXECUTED = ".executed"


class StorageError(RuntimeError):
    """A storage operation was refused or failed; the message says which object and why."""


class Backend:
    """Bytes at ``/``-separated keys under one root."""

    def uri(self, key: str) -> str:
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """Keys that start with ``prefix``."""
        raise NotImplementedError

    def writing(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to write; on clean exit it becomes ``key`` at once, else nothing changes."""
        raise NotImplementedError

    def reading(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path holding the bytes of ``key`` for the duration of the block."""
        raise NotImplementedError

    def rename(self, source: str, target: str) -> None:
        """Atomically replace ``target`` with ``source``."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError


class LocalBackend(Backend):
    def __init__(self, root: Path | str):
        self.root = Path(root).absolute()

    def path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def list(self, prefix: str) -> list[str]:
        # S3 semantics: every key below the root that starts with `prefix`; folders that cannot
        # hold such keys are not entered.
        start = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        keys = []
        for folder, subfolders, files in os.walk(self.root / start):
            base = Path(folder).relative_to(self.root).as_posix()
            base = "" if base == "." else f"{base}/"
            subfolders[:] = [
                d
                for d in subfolders
                if f"{base}{d}/".startswith(prefix) or prefix.startswith(f"{base}{d}/")
            ]
            keys.extend(f"{base}{f}" for f in files if f"{base}{f}".startswith(prefix))
        return sorted(keys)

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same directory as the target, so the final rename is atomic on one filesystem. The writer
        # creates the file itself: the product's bytes are written by exactly one open.
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            yield Path(temp)
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    @contextlib.contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.exists():
            raise StorageError(f"{path}: no such object")
        yield path

    def rename(self, source: str, target: str) -> None:
        self.path(target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(source), self.path(target))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size


def s3_options(environ: Mapping[str, str]) -> dict[str, str]:
    """Explicit S3 settings for S3-compatible servers (MinIO, a test server).

    Without them boto3 reads the standard ``AWS_ENDPOINT_URL`` / ``AWS_REGION`` itself, in the step
    process and in the kernel alike.
    """
    options = {
        "endpoint_url": environ.get("CATALOG_S3_ENDPOINT_URL", ""),
        "region_name": environ.get("CATALOG_S3_REGION", ""),
    }
    return {name: value for name, value in options.items() if value}


def open_backend(storage_url: str, s3_options: Mapping[str, Any] | None = None) -> Backend:
    """The backend for a storage root: ``s3://bucket/prefix``, ``file:///path`` or a local path.

    ``s3_options`` go to ``S3Backend`` (``client``, ``endpoint_url``, ``region_name``).
    """
    parsed = urlparse(storage_url)
    if parsed.scheme == "s3":
        from catalog_assets.s3 import S3Backend

        if not parsed.netloc:
            raise StorageError(f"storage URL {storage_url!r} names no bucket (s3://bucket/prefix)")
        return S3Backend(parsed.netloc, parsed.path.strip("/"), **(s3_options or {}))
    if parsed.scheme == "file":
        return LocalBackend(parsed.path)
    if parsed.scheme in ("", "c", "d") or len(parsed.scheme) == 1:
        return LocalBackend(storage_url)
    raise StorageError(f"storage URL {storage_url!r}: use a local path, file:// or s3://")


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
