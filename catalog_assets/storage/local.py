"""The local-directory backend.

Atomicity comes from the filesystem: a write goes to a temporary file in the target's directory and
is renamed into place (replace) or hard-linked into place (create-only: ``link`` fails if the target
exists). Compare-and-swap writes hold an exclusive ``flock`` on the target's directory while they
compare and rename, so two processes on this machine cannot both win.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from catalog_assets.errors import StorageError
from catalog_assets.storage import keys
from catalog_assets.storage.backend import (
    Backend,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    check_sha256,
    sha256_file,
)

TEMP_PREFIX = ".tmp-"
STAGING_DIR = ".staging"
_STAGING_NAME = re.compile(r"^\d{8}T\d{6}_(?P<pid>\d+)@(?P<host>[^_]+)_")


def _version(stat: os.stat_result) -> str:
    return f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ino}"


class LocalBackend(Backend):
    def __init__(self, root: Path | str):
        self.root = Path(root).absolute()

    def path(self, key: str) -> Path:
        return self.root / keys.validate(key)

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def _info(self, key: str, stat: os.stat_result) -> ObjectInfo:
        return ObjectInfo(key, stat.st_size, _version(stat), stat.st_mtime)

    def list(self, prefix: str) -> list[ObjectInfo]:
        # S3 semantics: every key below the root that starts with `prefix`; folders that cannot
        # hold such keys are not entered, temporary files of writes in flight are not listed.
        start = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        found = []
        top = self.root / keys.validate(start) if start else self.root
        for folder, subfolders, files in os.walk(top):
            base = Path(folder).relative_to(self.root).as_posix()
            base = "" if base == "." else f"{base}/"
            subfolders[:] = [
                d
                for d in subfolders
                if d != STAGING_DIR
                and (f"{base}{d}/".startswith(prefix) or prefix.startswith(f"{base}{d}/"))
            ]
            for name in files:
                key = f"{base}{name}"
                if name.startswith(TEMP_PREFIX) or not key.startswith(prefix):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    found.append(self._info(key, os.stat(Path(folder, name))))
        return sorted(found, key=lambda info: info.key)

    def children(self, prefix: str) -> list[str]:
        folder = self.root / keys.validate(prefix.rstrip("/"))
        try:
            return sorted(
                entry.name
                for entry in os.scandir(folder)
                if entry.is_dir() and not entry.name.startswith(".")
            )
        except FileNotFoundError:
            return []

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return self._info(key, os.stat(self.path(key)))
        except FileNotFoundError:
            return None

    def get_bytes(self, key: str) -> tuple[bytes, str]:
        path = self.path(key)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
                return data, _version(os.fstat(handle.fileno()))
        except FileNotFoundError:
            raise ObjectMissing(f"{path}: no such object") from None

    def _temp(self, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.parent / f"{TEMP_PREFIX}{target.name}.{uuid.uuid4().hex}"

    def put_bytes(
        self, key: str, data: bytes, *, if_absent: bool = False, if_version: str | None = None
    ) -> str:
        target = self.path(key)
        temp = self._temp(target)
        try:
            with open(temp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if if_absent:
                self._link_new(temp, target, key)
            elif if_version is not None:
                with _locked(target.parent):
                    current = self.stat(key)
                    if current is None or current.version != if_version:
                        raise PreconditionFailed(
                            f"{target}: changed since it was read (a concurrent write won)"
                        )
                    os.replace(temp, target)
            else:
                os.replace(temp, target)
            return _version(os.stat(target))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def _link_new(self, source: Path, target: Path, key: str) -> None:
        try:
            os.link(source, target)
        except FileExistsError:
            raise PreconditionFailed(f"{target}: already exists") from None

    def put_file(self, path: Path, key: str, *, if_absent: bool = False) -> None:
        target = self.path(key)
        temp = self._temp(target)
        try:
            try:
                # Same filesystem (a product staged under the root): a link, not a copy.
                os.link(path, temp)
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                shutil.copyfile(path, temp)
            if if_absent:
                self._link_new(temp, target, key)
            else:
                os.replace(temp, target)
        except OSError as error:
            if isinstance(error, StorageError):
                raise
            raise StorageError(f"{target}: cannot store {path}: {error}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def copy(self, source: str, target: str) -> None:
        if self.stat(source) is None:
            raise ObjectMissing(f"{self.path(source)}: no such object")
        self.put_file(self.path(source), target, if_absent=True)

    @contextlib.contextmanager
    def reading(
        self, key: str, *, version: str | None = None, sha256: str | None = None
    ) -> Iterator[Path]:
        path = self.path(key)
        info = self.stat(key)
        if info is None:
            raise ObjectMissing(f"{path}: no such object")
        if version is not None and info.version != version:
            raise PreconditionFailed(f"{path}: changed since its version was recorded")
        if sha256 is not None:
            check_sha256(str(path), sha256, sha256_file(path))
        yield path
        if version is not None and (after := self.stat(key)) and after.version != version:
            raise PreconditionFailed(f"{path}: changed while it was being read")

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def staging_root(self) -> Path:
        return self.root / STAGING_DIR

    def _leftovers(self, older_than: float) -> list[Path]:
        """Staging folders of processes that are gone, and temporary files of writes that never
        finished (older than ``older_than``)."""
        found = []
        staging = self.staging_root()
        if staging.is_dir():
            for folder in sorted(staging.iterdir()):
                if not _owner_alive(folder.name) and folder.stat().st_mtime < max(
                    older_than, time.time() - 60
                ):
                    found.append(folder)
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = [d for d in subfolders if d != STAGING_DIR]
            for name in files:
                path = Path(folder, name)
                if name.startswith(TEMP_PREFIX) and path.stat().st_mtime < older_than:
                    found.append(path)
        return found

    def stale_uploads(self, older_than: float) -> list[str]:
        return [str(path) for path in self._leftovers(older_than)]

    def abort_stale_uploads(self, older_than: float) -> list[str]:
        removed = []
        for path in self._leftovers(older_than):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(str(path))
        return removed


def staging_folder_name(entry: str, run_id: str) -> str:
    """A staging folder's name says which process owns it, so `catalog gc` can tell a leftover of a
    killed process from a step still running."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return (
        f"{stamp}_{os.getpid()}@{socket.gethostname()}_{run_id[:8]}_{entry}_{uuid.uuid4().hex[:6]}"
    )


def _owner_alive(name: str) -> bool:
    match = _STAGING_NAME.match(name)
    if match is None:
        return False
    pid, host = int(match["pid"]), match["host"]
    if host != socket.gethostname():
        return True  # another machine's step: only its age can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
