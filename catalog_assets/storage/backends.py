"""Open the backend a storage URL names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from catalog_assets.errors import StorageError
from catalog_assets.storage.backend import Backend
from catalog_assets.storage.local import LocalBackend


def open_backend(storage_url: str, s3_options: Mapping[str, Any] | None = None) -> Backend:
    """The backend for a storage root: ``s3://bucket/prefix``, ``file:///path`` or a local path.

    ``s3_options`` go to ``S3Backend`` (``client``, ``endpoint_url``, ``region_name``).
    """
    parsed = urlparse(storage_url)
    if parsed.scheme == "s3":
        from catalog_assets.storage.s3 import S3Backend

        if not parsed.netloc:
            raise StorageError(f"storage URL {storage_url!r} names no bucket (s3://bucket/prefix)")
        return S3Backend(parsed.netloc, parsed.path.strip("/"), **(s3_options or {}))
    if parsed.scheme == "file":
        return LocalBackend(parsed.path)
    if parsed.scheme in ("", "c", "d") or len(parsed.scheme) == 1:
        return LocalBackend(storage_url)
    raise StorageError(f"storage URL {storage_url!r}: use a local path, file:// or s3://")
