"""Operator tools over the store: roll a ref back, collect garbage.

``rollback`` repoints an area's ref at an earlier version from its history, after verifying that
version's bytes. ``collect`` deletes objects that no ref (in any area) and no recent history record
points to, and leftovers of writes that never finished (staging folders of dead processes,
temporary files, interrupted multipart uploads). It never deletes what a ref points to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from catalog_assets.errors import StorageError
from catalog_assets.storage.refs import Ref
from catalog_assets.storage.store import HISTORY, OBJECTS, REFS, CatalogStore

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
    store: CatalogStore, keep_days: float, dry_run: bool, now: float | None = None
) -> Collection:
    """Delete unreferenced objects older than ``keep_days`` and leftovers of dead writes.

    An object is kept if any area's current ref names it, or names it as an input it was
    computed from (what a preview read stays readable), or a history record younger than
    ``keep_days`` does, or it is itself younger than that.
    """
    now = time.time() if now is None else now
    cutoff = now - keep_days * DAY
    backend = store.backend
    protected: set[str] = set()
    objects = []
    for prefix in ("local/", "prod/", "branches/"):
        for info in backend.list(prefix):
            place = _area_of(info.key)
            if place is None:
                continue
            section = place[1]
            if section == OBJECTS:
                objects.append(info)
                continue
            if section not in (REFS, HISTORY) or not info.key.endswith(".json"):
                continue
            if section == HISTORY and info.modified < cutoff:
                continue  # old history: its object may go (the record stays)
            data, _ = backend.get_bytes(info.key)
            try:
                ref = Ref.from_bytes(data)
            except ValueError:
                raise StorageError(
                    f"{backend.uri(info.key)} is not a valid ref; refusing to collect anything "
                    "until it is fixed or removed"
                ) from None
            protected.add(ref.object)
            protected.update(version.key for version in ref.inputs.values())
    result = Collection(dry_run)
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
