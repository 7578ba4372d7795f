"""Which entries production must refresh, and why: storage is the truth.

An entry is stale when production holds no version of it, when the version it holds was computed by
other code (its ``code_version``), or from other versions of its inputs than production holds now
(an upstream entry's newer version, a source's newer file). Comparing the current definitions with
production's refs works on a fresh instance too, unlike Dagster's tick-to-tick
``code_version_changed``. No Dagster imports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from catalog_assets.catalog import graph
from catalog_assets.catalog.discovery import Catalog
from catalog_assets.storage.refs import Ref

Cause = Literal["new", "code", "inputs"]


@dataclass(frozen=True)
class Stale:
    entry: str
    cause: Cause
    reasons: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.entry}: {'; '.join(self.reasons)}"


@dataclass
class Assessment:
    stale: dict[str, Stale] = field(default_factory=dict)
    #: Entries that are up to date now but read a stale one: refreshed with it.
    downstream: set[str] = field(default_factory=set)
    #: (entry, code version, current input versions) of the stale entries, hashed: the same state
    #: always gives the same key, so a reload or a second tick never asks twice.
    key: str = ""

    @property
    def selection(self) -> list[str]:
        return sorted(set(self.stale) | self.downstream)

    def reasons(self) -> dict[str, str]:
        """Why each entry of the selection is refreshed, one line each."""
        found = {name: "; ".join(stale.reasons) for name, stale in self.stale.items()}
        for name in self.downstream:
            found[name] = "downstream of a refreshed entry"
        return found

    def summary(self, limit: int = 240) -> str:
        text = "; ".join(s.describe() for s in self.stale.values())
        if self.downstream:
            text += f"; downstream: {', '.join(sorted(self.downstream))}"
        return text if len(text) <= limit else text[: limit - 1] + "…"


def assess(
    catalog: Catalog,
    code_versions: Mapping[str, str],
    refs: Mapping[str, Ref],
    source_versions: Mapping[str, str | None],
) -> Assessment:
    """Compare every entry's code and inputs with what production's ref records."""
    result = Assessment()
    current_inputs: dict[str, dict[str, str | None]] = {}
    for name in catalog.upstream_order():
        entry = catalog.entries[name]
        ref = refs.get(name)
        inputs = {
            i: (
                source_versions.get(i)
                if i in catalog.sources
                else (refs[i].sha256 if i in refs else None)
            )
            for i in entry.metadata.inputs
        }
        current_inputs[name] = inputs
        if ref is None:
            result.stale[name] = Stale(name, "new", ("production has no version",))
            continue
        if ref.code_version != code_versions[name]:
            result.stale[name] = Stale(
                name, "code", (f"code changed ({ref.code_version} → {code_versions[name]})",)
            )
            continue
        reasons = []
        for upstream, version in inputs.items():
            recorded = ref.inputs.get(upstream)
            if version is None:
                continue  # a missing input cannot be fixed by a refresh; its run would fail
            if recorded is None or recorded.version != version:
                kind = "source" if upstream in catalog.sources else "input"
                was = recorded.version[:12] if recorded else "none"
                reasons.append(f"{kind} {upstream} changed ({was} → {version[:12]})")
        if reasons:
            result.stale[name] = Stale(name, "inputs", tuple(reasons))
    result.downstream = graph.downstream(catalog.graph, result.stale) - set(result.stale)
    if result.stale:
        identity = [
            [name, code_versions[name], sorted((k, v) for k, v in current_inputs[name].items())]
            for name in sorted(result.stale)
        ]
        blob = json.dumps([identity, sorted(result.downstream)], sort_keys=True, default=str)
        result.key = "refresh-" + hashlib.sha256(blob.encode()).hexdigest()[:24]
    return result
