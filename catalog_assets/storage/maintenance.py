"""Operator tools over the store: roll a ref back, collect garbage, expire and erase data.

``rollback`` repoints an area's ref at an earlier version from its history, after verifying that
version's bytes. ``collect`` deletes objects that no ref (in any area) and no recent history record
points to, and leftovers of writes that never finished (staging folders of dead processes,
temporary files, interrupted multipart uploads). It never deletes what a live ref points to; a
version older than its entry's retention (the terms of the sources it reads) is no longer live:
its records, object and executed notebooks go, and the refresh recomputes the entry.
``purge_tenant`` erases every product computed from one tenant's data, in every area: its
partitions, and whatever was computed from them (a pooled model, that model's scores).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from catalog_assets.errors import StorageError
from catalog_assets.storage.backend import ObjectInfo
from catalog_assets.storage.refs import Ref
from catalog_assets.storage.store import EXECUTED, HISTORY, OBJECTS, REFS, CatalogStore

DAY = 86400.0


def find_version(store: CatalogStore, entry: str, version: str, partition: str | None) -> Ref:
    """The newest history record of ``entry`` whose SHA-256 starts with ``version``."""
    if len(version) < 6:
        raise StorageError(f"give at least 6 characters of the version, not {version!r}")
    history = store.history(entry, partition)
    matches = [r for r in history if r.sha256.startswith(version.lower())]
    if not matches:
        raise StorageError(
            f"{entry} has no version {version} in {store.area}; list them with "
            f"`catalog history {entry} --deployment {store.deployment.kind}`"
        )
    if len({r.sha256 for r in matches}) > 1:
        raise StorageError(f"version {version} of {entry} is ambiguous; give more characters")
    return matches[-1]


def rollback(
    store: CatalogStore, entry: str, version: str, partition: str | None = None
) -> tuple[Ref, Ref | None]:
    """Repoint ``entry``'s ref at an earlier version; returns (the new ref, the replaced one)."""
    target = find_version(store, entry, version, partition)
    current = store.read_ref(entry, partition)
    if current is not None and current[0].sha256 == target.sha256:
        raise StorageError(f"{entry} is already at version {target.short}")
    if store.backend.stat(target.object) is None:
        raise StorageError(
            f"version {target.short} of {entry} was garbage-collected ({target.object} is gone); "
            "it cannot be restored"
        )
    with store.backend.reading(target.object, sha256=target.sha256):
        pass  # its bytes are what the ref says
    rolled = target.model_copy(
        update={
            "event": "rolled_back",
            "rolled_back_from": current[0].sha256 if current else None,
            "created_at": datetime.now(UTC),
            "area": store.area,
            "deployment": store.deployment.kind,
            "branch": store.deployment.branch,
            "run_id": None,
            "promoted_from": None,
        }
    )
    store.publish(rolled)
    return rolled, current[0] if current else None


@dataclass
class Collection:
    """What ``collect`` deleted (or, in a dry run, would delete)."""

    dry_run: bool
    objects: list[tuple[str, int]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    kept: int = 0
    #: Records (refs, history) and executed notebooks past their entry's retention.
    expired: list[str] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.objects)


def _area_of(key: str) -> tuple[str, str] | None:
    """(area, section) of a key under an area: section is refs, history, objects, ..."""
    parts = key.split("/")
    if parts[0] in ("local", "prod") and len(parts) > 2:
        return parts[0], parts[1]
    if parts[0] == "branches" and len(parts) > 3:
        return f"branches/{parts[1]}", parts[2]
    return None


def collect(
    store: CatalogStore,
    keep_days: float,
    dry_run: bool,
    now: float | None = None,
    retention: Mapping[str, float] | None = None,
    local_executed: Path | None = None,
) -> Collection:
    """Delete unreferenced objects older than ``keep_days`` and leftovers of dead writes.

    An object is kept if any area's current ref names it, or names it as an input it was
    computed from (what a preview read stays readable), or a history record younger than
    ``keep_days`` does, or it is itself younger than that. ``retention`` gives an entry's
    retention in days: its records (the current ref too) and executed notebooks older than that
    are deleted first, so they protect nothing (``local_executed``: the project's own copies).
    """
    now = time.time() if now is None else now
    cutoff = now - keep_days * DAY
    retention = retention or {}
    backend = store.backend
    result = Collection(dry_run)
    protected: set[str] = set()
    objects = []
    for info, entry, section in _area_keys(store):
        if section == OBJECTS:
            objects.append(info)
            continue
        limit = retention.get(entry)
        if section == EXECUTED:
            if limit is not None and info.modified < now - limit * DAY:
                result.expired.append(info.key)
                if not dry_run:
                    backend.delete(info.key)
            continue
        if section not in (REFS, HISTORY) or not info.key.endswith(".json"):
            continue
        if section == HISTORY and info.modified < cutoff and limit is None:
            continue  # old history: its object may go (the record stays)
        ref = _parse(store, info.key)
        if limit is not None and ref.created_at.timestamp() < now - limit * DAY:
            result.expired.append(info.key)
            if not dry_run:
                backend.delete(info.key)
            continue
        if section == HISTORY and info.modified < cutoff:
            continue
        protected.add(ref.object)
        protected.update(version.key for version in ref.inputs.values())
    if local_executed is not None:
        for path in _local_notebooks(local_executed):
            limit = retention.get(_entry_of_label(path.stem))
            if limit is not None and path.stat().st_mtime < now - limit * DAY:
                result.expired.append(str(path))
                if not dry_run:
                    path.unlink(missing_ok=True)
    for info in objects:
        if info.key in protected or info.modified >= cutoff:
            result.kept += 1
            continue
        result.objects.append((info.key, info.size))
        if not dry_run:
            backend.delete(info.key)
    if dry_run:
        result.leftovers = backend.stale_uploads(cutoff)
    else:
        result.leftovers = backend.abort_stale_uploads(cutoff)
    return result


def _area_keys(store: CatalogStore) -> Iterator[tuple[ObjectInfo, str, str]]:
    """Every key under an area, with the entry it belongs to and its section."""
    for prefix in ("local/", "prod/", "branches/"):
        for info in store.backend.list(prefix):
            place = _area_of(info.key)
            if place is None:
                continue
            area, section = place
            rest = info.key[len(area) + len(section) + 2 :].split("/")
            if section == REFS:
                entry = rest[0].removesuffix(".json")
            elif section == EXECUTED:
                entry = _entry_of_label(rest[-1].rsplit("-", 1)[0]) if len(rest) > 1 else ""
            else:
                entry = rest[0]
            yield info, entry, section


def _entry_of_label(label: str) -> str:
    """The entry of a run label (``entry`` or ``entry--tenant``)."""
    return label.split("--", 1)[0]


def _tenant_of_label(label: str) -> str | None:
    return label.split("--", 1)[1] if "--" in label else None


def _local_notebooks(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.ipynb")) if root.is_dir() else []


def _parse(store: CatalogStore, key: str) -> Ref:
    data, _ = store.backend.get_bytes(key)
    try:
        return Ref.from_bytes(data)
    except ValueError:
        raise StorageError(
            f"{store.backend.uri(key)} is not a valid ref; refusing to change storage until it "
            "is fixed or removed"
        ) from None


@dataclass
class Purge:
    """What ``purge_tenant`` deleted (or, in a dry run, would delete)."""

    tenant: str
    dry_run: bool
    #: Products computed from the tenant's data, as ``area: entry[partition] version``.
    products: list[str] = field(default_factory=list)
    #: Every key (and local file) deleted.
    deleted: list[str] = field(default_factory=list)


def purge_tenant(
    store: CatalogStore, tenant: str, dry_run: bool, local_executed: Path | None = None
) -> Purge:
    """Erase everything computed from ``tenant``'s data, in every area.

    A version is the tenant's when it is one of its partitions or was computed from an input
    that is (transitively: a pooled model trained with its members, and scores of that model).
    Its ref or history record, its object and its run's executed notebook are deleted, as are
    executed notebooks of the tenant's failed runs. Without a ref an entry is new again: the
    next refresh recomputes the pooled ones without the tenant.
    """
    result = Purge(tenant, dry_run)
    records: list[tuple[str, str, Ref]] = []
    executed: list[ObjectInfo] = []
    for info, _entry, section in _area_keys(store):
        if section == EXECUTED:
            executed.append(info)
        elif section in (REFS, HISTORY) and info.key.endswith(".json"):
            records.append((info.key, section, _parse(store, info.key)))
    tainted = {ref.object for _, _, ref in records if ref.partition == tenant}
    while True:  # what was computed from a tainted input is tainted: close over the lineage
        more = {
            ref.object
            for _, _, ref in records
            if ref.object not in tainted
            and any(v.key in tainted or v.partition == tenant for v in ref.inputs.values())
        }
        if not more:
            break
        tainted |= more
    runs: set[tuple[str, str]] = set()
    doomed: list[str] = []
    for key, section, ref in records:
        if ref.object not in tainted:
            continue
        doomed.append(key)
        if section == REFS:
            where = f"{ref.area}: {ref.entry}" + (f"[{ref.partition}]" if ref.partition else "")
            result.products.append(f"{where} {ref.sha256[:12]}")
        if ref.run_id:
            label = ref.entry + (f"--{ref.partition}" if ref.partition else "")
            runs.add((ref.run_id, label))
    doomed.extend(sorted(tainted))
    for info in executed:
        name = info.key.rsplit("/", 1)[-1]
        run_id = info.key.rsplit("/", 2)[-2]
        label = name.rsplit("-", 1)[0]
        if _tenant_of_label(label) == tenant or (run_id, label) in runs:
            doomed.append(info.key)
    for key in doomed:
        if store.backend.stat(key) is None:
            continue
        result.deleted.append(store.backend.uri(key))
        if not dry_run:
            store.backend.delete(key)
    if local_executed is not None:
        for path in _local_notebooks(local_executed):
            if _tenant_of_label(path.stem) == tenant or (path.parent.name, path.stem) in runs:
                result.deleted.append(str(path))
                if not dry_run:
                    path.unlink()
    staging = store.backend.staging_root()
    if staging is not None and staging.is_dir():
        # Staging folders are named after the run label (``..._entry--tenant_...``).
        for folder in sorted(staging.glob(f"*--{tenant}_*")):
            result.deleted.append(str(folder))
            if not dry_run:
                shutil.rmtree(folder, ignore_errors=True)
    return result
