"""The backend interface: bytes at validated ``/``-separated keys under one root.

Two kinds of write exist, and both are atomic (a reader sees the old bytes or the new, never half):

* ``put_bytes`` for small documents (refs, history records), optionally conditional: create-only
  (``if_absent``) or compare-and-swap on the version last read (``if_version``). Conditional
  writes are what make a ref the commit point: two concurrent runs leave one complete winner.
* ``put_file`` for products, create-only when asked: an immutable object is never overwritten.

Every key is checked by ``keys.validate`` before use, in both backends.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from catalog_assets.errors import StorageError

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says of one object: its size, an opaque version token, and its age.

    ``version`` changes whenever the bytes may have changed: the S3 ETag, or locally the size,
    modification time and inode.
    """

    key: str
    size: int
    version: str
    modified: float  # seconds since the epoch


class PreconditionFailed(StorageError):
    """A conditional write lost: the object exists already, or changed since it was read."""


class ObjectMissing(StorageError):
    """The object does not exist."""


class IntegrityError(StorageError):
    """Stored bytes do not match the SHA-256 their ref records."""


class Backend:
    """Bytes at keys under one root."""

    def uri(self, key: str) -> str:
        raise NotImplementedError

    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo | None:
        raise NotImplementedError

    def children(self, prefix: str) -> list[str]:
        """The names of the folders directly under ``prefix`` (which ends with ``/``)."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> tuple[bytes, str]:
        """The bytes of a small object and their version token.

        Raises:
            ObjectMissing: no such object.
        """
        raise NotImplementedError

    def put_bytes(
        self, key: str, data: bytes, *, if_absent: bool = False, if_version: str | None = None
    ) -> str:
        """Write a small object atomically; returns its new version token.

        Raises:
            PreconditionFailed: ``if_absent`` and it exists, or ``if_version`` is not current.
        """
        raise NotImplementedError

    def put_file(self, path: Path, key: str, *, if_absent: bool = False) -> None:
        """Store a local file as ``key``, atomically; ``if_absent`` never replaces an object.

        Raises:
            PreconditionFailed: ``if_absent`` and the object exists.
        """
        raise NotImplementedError

    def copy(self, source: str, target: str) -> None:
        """Copy an object within this storage without the bytes passing through this process
        (a server-side copy on S3, a hard link locally)."""
        raise NotImplementedError

    def reading(
        self, key: str, *, version: str | None = None, sha256: str | None = None
    ) -> contextlib.AbstractContextManager[Path]:
        """A local path holding the bytes of ``key`` for the duration of the block.

        ``version``: refuse if the object is no longer that version. ``sha256``: refuse if the bytes
        do not hash to it (``IntegrityError``).
        """
        raise NotImplementedError

    def verify_sha256(self, key: str, sha256: str) -> bool:
        """Whether the object's bytes hash to ``sha256`` (reads them, unless a backend can tell
        from a checksum the store itself verified)."""
        try:
            with self.reading(key, sha256=sha256):
                return True
        except IntegrityError:
            return False

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def local_path(self, key: str) -> Path | None:
        """The object's own file, when storage is local (None for remote storage)."""
        return None

    def staging_root(self) -> Path | None:
        """A local directory on the same filesystem as the objects, where products are staged so
        that storing them is a link rather than a copy; None when storage is remote."""
        return None

    def stale_uploads(self, older_than: float) -> list[str]:
        """Interrupted uploads begun before ``older_than`` (epoch seconds), as descriptions."""
        return []

    def abort_stale_uploads(self, older_than: float) -> list[str]:
        """Abort what ``stale_uploads`` lists; returns the same descriptions."""
        return []


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(uri: str, expected: str | None, actual: str) -> None:
    if expected is not None and actual != expected:
        raise IntegrityError(
            f"{uri}: its bytes hash to sha256 {actual[:12]}… but its ref records {expected[:12]}…; "
            "refusing to load it (the object was changed or replaced after it was stored)"
        )
