"""Promotion without recompute: production takes a branch's version of an entry as its own.

A branch's version is promotable when it was computed by the code production now has (same code
version) from exactly the inputs production now holds (same version of every input, sources
included), its object verifies against its SHA-256, and none of its blocking checks failed. Its
ref is then published in production as is: objects are shared and immutable, so nothing is copied.
Chains promote: a downstream version that read a branch's version of an upstream becomes
promotable once that upstream is promoted, because production then holds that version.
No Dagster imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from catalog_assets.settings import PROD_AREA
from catalog_assets.storage import keys
from catalog_assets.storage.refs import Origin, Ref
from catalog_assets.storage.store import CatalogStore


@dataclass(frozen=True)
class Candidate:
    ref: Ref
    area: str


def branch_versions(
    store: CatalogStore, entry: str, partition: str | None = None
) -> list[Candidate]:
    """Every branch's current version of ``entry``, newest first."""
    found = []
    for slug in store.backend.children("branches/"):
        area = keys.join("branches", slug)
        current = store.read_ref(entry, partition, area)
        if current is not None:
            found.append(Candidate(current[0], area))
    return sorted(found, key=lambda c: c.ref.created_at, reverse=True)


def find_promotable(
    store: CatalogStore,
    entry: str,
    code_version: str,
    checks_version: str,
    inputs: dict[str, str],
    blocking: set[str],
    partition: str | None = None,
) -> tuple[Candidate | None, list[str]]:
    """The newest branch version production can take instead of recomputing ``entry``, and why
    each other branch version was passed over.

    ``inputs``: input name -> the version production holds now. ``blocking``: the names of the
    entry's blocking checks.
    """
    passed_over = []
    for candidate in branch_versions(store, entry, partition):
        ref, where = candidate.ref, candidate.area
        recorded = {name: version.version for name, version in ref.inputs.items()}
        if ref.code_version != code_version:
            passed_over.append(f"{where}: computed by other code ({ref.code_version})")
        elif recorded != inputs:
            differing = sorted(
                n for n in set(recorded) | set(inputs) if recorded.get(n) != inputs.get(n)
            )
            passed_over.append(f"{where}: computed from other versions of {', '.join(differing)}")
        elif ref.checks_version == checks_version and any(
            not check.passed and check.name in blocking for check in ref.checks
        ):
            passed_over.append(f"{where}: a blocking check failed on it")
        elif not store.backend.verify_sha256(ref.object, ref.sha256):
            passed_over.append(f"{where}: its object does not verify against sha256 {ref.short}")
        else:
            return candidate, passed_over
    return None, passed_over


def promoted_ref(candidate: Candidate, run_id: str | None) -> Ref:
    """The branch version as production's, saying where it came from."""
    ref = candidate.ref
    return ref.model_copy(
        update={
            "area": PROD_AREA,
            "deployment": "prod",
            "branch": None,
            "run_id": run_id,
            "created_at": datetime.now(UTC),
            "event": "promoted",
            "promoted_from": Origin(area=candidate.area, branch=ref.branch, run_id=ref.run_id),
            "rolled_back_from": None,
        }
    )
