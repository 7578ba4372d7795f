"""The local-directory backend."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from catalog_assets.errors import StorageError
from catalog_assets.storage.backend import Backend


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
