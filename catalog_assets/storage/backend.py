"""The backend interface: bytes at ``/``-separated keys under one root."""

from __future__ import annotations

import contextlib
from pathlib import Path


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
