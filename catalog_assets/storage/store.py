"""Where products live: immutable objects, a ref per entry and area, and their history.

Layout under the storage root::

    sources/<location>                          provider data; read-only for every deployment
    <area>/objects/<entry>/<sha256>.<ext>       products: content-addressed, immutable,
                                                create-only (deleted only by `catalog gc`)
    <area>/refs/<entry>.json                    the area's current version of an entry (the ref)
    <area>/refs/<entry>/<partition>.json        ... of one partition of a partitioned entry
    <area>/history/<entry>/<time>-<run>.json    every ref ever written there, for history/rollback
    <area>/executed/<run_id>/<entry>-<sha256>.ipynb  executed notebooks (remote storage)

``<area>`` is ``local``, ``prod`` or ``branches/<slug>-<hash>``. A product is staged as a local
file, hashed, stored once as its object (create-only: if the object exists its bytes are verified
instead), and published by writing the ref with a conditional write, so readers see the old version
or the new and two concurrent commits leave one complete winner. Every load checks the object's
SHA-256 against the ref. A branch reads its own ref, else production's; since objects are
immutable, the version a branch read still exists after production moves on.

A branch may write only under its own area, and objects only create-only; nothing it can do through
this store changes or deletes bytes production reads, and the branch IAM policy (deploy/iam/)
holds its credentials to the same. Promotion copies a branch's object into production's area.
No Dagster imports.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_assets.errors import StorageError
from catalog_assets.settings import PROD_AREA, Deployment
from catalog_assets.storage import formats, keys
from catalog_assets.storage.backend import (
    Backend,
    IntegrityError,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    sha256_file,
)
from catalog_assets.storage.refs import Ref
from catalog_assets.storage.sources import read_source_file

SOURCES = "sources"
OBJECTS = "objects"
REFS = "refs"
HISTORY = "history"
EXECUTED = "executed"
_COMMIT_ATTEMPTS = 30


@dataclass(frozen=True)
class Resolved:
    """A ref as a deployment reads it, and the area it was found in."""

    ref: Ref
    area: str


@dataclass(frozen=True)
class Staged:
    """A product file the step verified and is about to store: what ``commit`` needs.

    ``path`` is a local file only the step knows; ``ref`` is the ref to publish, already naming the
    object by the SHA-256 the step computed from the file itself; ``sealed`` is the file's size,
    modification time and inode when it was hashed, so a change after hashing is refused without
    reading the product again.
    """

    path: Path
    ref: Ref
    sealed: str

    @classmethod
    def seal(cls, path: Path, ref_fields: dict[str, Any]) -> Staged:
        """Hash a product file and build its ref; refuses a file that changes while hashed."""
        before = _file_token(path)
        sha256 = sha256_file(path)
        if _file_token(path) != before:
            raise IntegrityError(f"{path} changed while it was being verified; nothing was stored")
        fmt = formats.by_name(ref_fields["format"])
        ref = Ref(
            object=object_key(ref_fields["area"], ref_fields["entry"], sha256, fmt.name),
            sha256=sha256,
            size=path.stat().st_size,
            **ref_fields,
        )
        return cls(path, ref, before)


def object_key(area: str, entry: str, sha256: str, fmt: str) -> str:
    """Where an area keeps a version of an entry's product: named by its content."""
    return keys.join(area, OBJECTS, entry, f"{sha256}.{formats.by_name(fmt).extension}")


def is_object_of(ref: Ref) -> bool:
    """Whether ``ref.object`` is the object its entry, SHA-256 and format name, in some area."""
    area = ref.object.split("/" + OBJECTS + "/", 1)[0]
    shaped = area in ("local", "prod") or (area.startswith("branches/") and area.count("/") == 1)
    return shaped and ref.object == object_key(area, ref.entry, ref.sha256, ref.format)


def _file_token(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ino}"


@dataclass(frozen=True)
class Promoted:
    """A version computed elsewhere (a branch) and verified, to become this area's ref as is."""

    ref: Ref


class CatalogStore:
    """Products of one deployment: its own area for writes, production's as a branch's fallback."""

    def __init__(self, backend: Backend, deployment: Deployment):
        self.backend = backend
        self.deployment = deployment

    @classmethod
    def open(
        cls, deployment: Deployment, s3: dict[str, Any] | None = None, client: Any = None
    ) -> CatalogStore:
        """The store of a deployment over the backend its storage URL names."""
        from catalog_assets.storage.backends import open_backend

        options = {**(s3 or {}), **({"client": client} if client is not None else {})}
        return cls(open_backend(deployment.storage_url, options), deployment)

    @property
    def area(self) -> str:
        return self.deployment.area

    # Keys: the layout lives here and nowhere else.

    def ref_key(self, entry: str, partition: str | None = None, area: str | None = None) -> str:
        area = area or self.area
        if partition is None:
            return keys.join(area, REFS, f"{entry}.json")
        return keys.join(area, REFS, entry, f"{partition}.json")

    def history_prefix(
        self, entry: str, partition: str | None = None, area: str | None = None
    ) -> str:
        parts = [area or self.area, HISTORY, entry] + ([partition] if partition else [])
        return keys.join(*parts) + "/"

    def object_key(self, entry: str, sha256: str, fmt: str, area: str | None = None) -> str:
        return object_key(area or self.area, entry, sha256, fmt)

    def source_key(self, location: str) -> str:
        return keys.join(SOURCES, location)

    def executed_key(self, run_id: str, entry: str, sha256: str) -> str:
        """Named by content, like objects, so keeping one is a create-only write (a retried step
        keeps its own notebook beside the first attempt's)."""
        return keys.join(self.area, EXECUTED, run_id, f"{entry}-{sha256[:12]}.ipynb")

    # Reading.

    def read_ref(
        self, entry: str, partition: str | None = None, area: str | None = None
    ) -> tuple[Ref, str] | None:
        """The ref of ``entry`` in ``area`` (default: this deployment's) and its version token."""
        key = self.ref_key(entry, partition, area)
        try:
            data, version = self.backend.get_bytes(key)
        except ObjectMissing:
            return None
        try:
            return Ref.from_bytes(data), version
        except ValueError as error:
            raise StorageError(f"{self.backend.uri(key)}: not a valid ref: {error}") from None

    def area_refs(
        self, area: str | None = None, cache: dict[str, tuple[str, Ref]] | None = None
    ) -> dict[tuple[str, str | None], Ref]:
        """Every ref of an area, by (entry, partition), from one listing. ``cache`` (kept by the
        caller between calls) holds refs by key and version, so only changed refs are read, and
        those in parallel (remote storage answers many small reads at once)."""
        prefix = keys.join(area or self.area, REFS) + "/"
        cache = {} if cache is None else cache
        listed = {}
        for info in self.backend.list(prefix):
            parts = info.key[len(prefix) :].removesuffix(".json").split("/")
            if info.key.endswith(".json") and len(parts) in (1, 2):
                listed[info.key] = (info.version, (parts[0], parts[1] if len(parts) == 2 else None))
        missing = [k for k, (version, _) in listed.items() if cache.get(k, ("",))[0] != version]

        def fetch(key: str) -> tuple[str, tuple[str, Ref] | None]:
            try:
                data, version = self.backend.get_bytes(key)
            except ObjectMissing:
                return key, None  # replaced between the listing and the read: next call sees it
            return key, (version, Ref.from_bytes(data))

        if len(missing) > 8:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=16) as pool:
                fetched = list(pool.map(fetch, missing))
        else:
            fetched = [fetch(key) for key in missing]
        for key, value in fetched:
            if value is not None:
                cache[key] = value
        for gone in set(cache) - set(listed):
            cache.pop(gone, None)
        return {name: cache[key][1] for key, (_, name) in listed.items() if key in cache}

    def source_versions(self) -> dict[str, str]:
        """The current version of every source file, by key, from one listing."""
        return {info.key: info.version for info in self.backend.list(f"{SOURCES}/")}

    def resolve(self, entry: str, partition: str | None = None) -> Resolved | None:
        """The version this deployment reads: its own ref, else (a branch) production's."""
        for area in self.deployment.read_areas:
            found = self.read_ref(entry, partition, area)
            if found is not None:
                return Resolved(found[0], area)
        return None

    def load(self, ref: Ref, policy: formats.LoadPolicy) -> Any:
        """The value a ref names, after checking its bytes against the ref's SHA-256."""
        if not is_object_of(ref):
            raise IntegrityError(
                f"the ref of {ref.entry} names {ref.object!r}, which is not the object of its "
                f"sha256 and format; refusing it"
            )
        return self.read_object(ref.object, ref.sha256, ref.format, policy)

    def read_object(self, key: str, sha256: str, fmt_name: str, policy: formats.LoadPolicy) -> Any:
        """An object's value, refused unless its bytes hash to ``sha256`` and ``policy`` allows
        its format and the types it holds."""
        fmt = formats.by_name(fmt_name)
        if fmt.name == "pickle" and not policy.allow_pickle:
            raise formats.UntrustedModelError(
                f"{self.backend.uri(key)} is a pickle, but the entry that produced it does not "
                "declare format: pickle; refusing to unpickle it"
            )
        with self.backend.reading(key, sha256=sha256) as path:
            return fmt.load(path, policy)

    def read_source(
        self,
        key: str,
        version: str | None,
        fmt: str,
        options: dict[str, Any] | None = None,
        name: str = "source",
    ) -> Any:
        """A source file as a DataFrame, refused if it is no longer the version recorded."""
        with self.backend.reading(key, version=version) as path:
            return read_source_file(path, fmt, options, name=name, uri=self.backend.uri(key))

    def source_path(self, key: str, version: str | None, cache_dir: Path) -> Path:
        """A local path holding a source file's bytes (that version): the file itself on local
        storage, else a copy fetched once into ``cache_dir``."""
        info = self.backend.stat(key)
        if info is None:
            raise ObjectMissing(f"{self.backend.uri(key)}: no such source file")
        if version is not None and info.version != version:
            raise PreconditionFailed(
                f"{self.backend.uri(key)}: changed since the run resolved it (a new version)"
            )
        local = self.backend.local_path(key)
        if local is not None:
            return local
        import hashlib

        tag = hashlib.sha256(f"{self.backend.uri(key)}\0{info.version}".encode()).hexdigest()[:16]
        target = cache_dir / tag / key.rsplit("/", 1)[-1]
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".tmp-{uuid.uuid4().hex}")
        with self.backend.reading(key, version=info.version) as path:
            shutil.copyfile(path, temp)
        os.replace(temp, target)
        return target

    def source_info(self, location: str) -> ObjectInfo | None:
        return self.backend.stat(self.source_key(location))

    def history(
        self, entry: str, partition: str | None = None, area: str | None = None
    ) -> list[Ref]:
        """Every version written to the area's ref, oldest first."""
        records = []
        for info in self.backend.list(self.history_prefix(entry, partition, area)):
            if partition is None and info.key.count("/") != self.history_prefix(
                entry, None, area
            ).count("/"):
                continue  # a partition's record
            data, _ = self.backend.get_bytes(info.key)
            records.append(Ref.from_bytes(data))
        return sorted(records, key=lambda r: r.created_at)

    def areas(self) -> list[str]:
        """Every area holding refs: local, prod and each branch."""
        found = set()
        for info in self.backend.list(""):
            parts = info.key.split("/")
            if parts[0] in ("local", PROD_AREA) and len(parts) > 1 and parts[1] == REFS:
                found.add(parts[0])
            elif parts[0] == "branches" and len(parts) > 2 and parts[2] == REFS:
                found.add(f"branches/{parts[1]}")
        return sorted(found)

    # Writing.

    def _check_writable(self, key: str) -> None:
        if not keys.is_under(key, self.area):
            raise StorageError(
                f"refusing to write {self.backend.uri(key)}: the {self.deployment.label} "
                f"deployment writes only under {self.area}/"
            )

    @contextlib.contextmanager
    def staging(self, run_id: str, entry: str) -> Iterator[Path]:
        """A fresh local directory to stage one product in; removed on exit, whatever happens."""
        root = self.backend.staging_root()
        if root is None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix=f"catalog-{entry}-") as folder:
                yield Path(folder)
            return
        from catalog_assets.storage.local import staging_folder_name

        folder = root / staging_folder_name(entry, run_id)
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def store_object(self, path: Path, entry: str, sha256: str, fmt: str) -> str:
        """Store a verified local file as an immutable object of this area; returns its key.

        Create-only: if the object already exists (the same product computed before) its bytes are
        verified against ``sha256`` instead of being written again.
        """
        key = self.object_key(entry, sha256, fmt)
        self._check_writable(key)
        try:
            self.backend.put_file(path, key, if_absent=True)
            return key
        except PreconditionFailed:
            pass
        if self.backend.verify_sha256(key, sha256):
            return key
        # This area's object does not hold what its name says (damaged): replace it.
        self.backend.put_file(path, key)
        return key

    def commit(self, staged: Staged) -> Ref:
        """Publish a staged product: store its object, record its history, then swap its ref."""
        ref = staged.ref
        if ref.area != self.area:
            raise StorageError(f"refusing to commit a ref for area {ref.area} from {self.area}")
        if _file_token(staged.path) != staged.sealed:
            raise IntegrityError(
                f"the staged product of {ref.entry} changed after it was verified; nothing was "
                "stored"
            )
        key = self.store_object(staged.path, ref.entry, ref.sha256, ref.format)
        self._check_writable(key)
        return self.publish(ref)

    def adopt_object(self, ref: Ref) -> Ref:
        """``ref`` with its object in this area: an object of another area (a branch's, being
        promoted) is copied here server-side (a hard link locally), create-only, and verified;
        its bytes never pass through this process."""
        target = self.object_key(ref.entry, ref.sha256, ref.format)
        if ref.object == target:
            return ref
        self._check_writable(target)
        if self.backend.stat(target) is None:
            self.backend.copy(ref.object, target)
        if not self.backend.verify_sha256(target, ref.sha256):
            raise IntegrityError(
                f"{self.backend.uri(target)} does not hold sha256 {ref.short} after copying "
                f"{self.backend.uri(ref.object)}; nothing was published"
            )
        return ref.model_copy(update={"object": target})

    def publish(self, ref: Ref) -> Ref:
        """Make ``ref`` the area's current version (its object must exist and match)."""
        ref_key = self.ref_key(ref.entry, ref.partition)
        self._check_writable(ref_key)
        info = self.backend.stat(ref.object)
        if info is None or info.size != ref.size:
            raise StorageError(
                f"refusing to publish {ref.entry}: its object {ref.object} is missing"
            )
        history_key = keys.join(
            self.history_prefix(ref.entry, ref.partition).rstrip("/"),
            f"{ref.created_at:%Y%m%dT%H%M%S%fZ}-{(ref.run_id or 'manual')[:36]}.json",
        )
        self._check_writable(history_key)
        self.backend.put_bytes(history_key, ref.to_bytes(), if_absent=True)
        for attempt in range(_COMMIT_ATTEMPTS):
            if attempt:
                # Another commit won between our read and write: back off, then try on top of it.
                time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
            current = self.read_ref(ref.entry, ref.partition)
            try:
                if current is None:
                    self.backend.put_bytes(ref_key, ref.to_bytes(), if_absent=True)
                else:
                    self.backend.put_bytes(ref_key, ref.to_bytes(), if_version=current[1])
                return ref
            except PreconditionFailed:
                continue
        raise StorageError(f"{self.backend.uri(ref_key)}: too many concurrent commits; try again")

    def write_value(
        self,
        value: Any,
        ref_fields: dict[str, Any],
        policy: formats.LoadPolicy,
        declared_format: str | None = None,
    ) -> Ref:
        """Store a value handed to the IO manager directly (a Python asset, a test)."""
        fmt = formats.choose(value, declared_format)
        entry = ref_fields["entry"]
        with self.staging(ref_fields.get("run_id") or "direct", entry) as folder:
            path = folder / f"product.{fmt.extension}"
            formats.write(value, fmt, path, policy)
            staged = Staged.seal(
                path,
                {
                    "format": fmt.name,
                    "facts": fmt.describe(value),
                    "deployment": self.deployment.kind,
                    "branch": self.deployment.branch,
                    "area": self.area,
                    **ref_fields,
                },
            )
            return self.commit(staged)

    def keep_file(self, path: Path, key: str) -> None:
        """Store a local file (an executed notebook) in this deployment's area, create-only: the
        key names the content, so a key that exists already holds these bytes."""
        self._check_writable(key)
        with contextlib.suppress(PreconditionFailed):
            self.backend.put_file(path, key, if_absent=True)
