"""Which entries (and tenant partitions) production must refresh, and why: storage is the truth.

An entry's product — or one tenant's partition of a per-tenant entry — is stale when production
holds no version of it, when the version it holds was computed by other code (its
``code_version``), or from other versions of its inputs than production holds now (an upstream
entry's newer version, a source's newer file, a pooled entry's tenants changing). Comparing the
current definitions with production's refs works on a fresh instance too, unlike Dagster's
tick-to-tick ``code_version_changed``.

What is stale, and its downstream, is grouped into batches, one run each: the unpartitioned
entries together, and each tenant's partitions together. A node whose stale upstream is in
another batch waits for a later tick, so nothing is computed from an input about to change.
No Dagster imports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from catalog_assets.catalog.discovery import Catalog
from catalog_assets.catalog.terms import TENANT_PARTITIONS, Slot, slots
from catalog_assets.storage.refs import Ref

Cause = Literal["new", "code", "inputs"]
Node = tuple[str, str | None]


def label(node: Node) -> str:
    """``entry``, or ``entry[tenant]`` for one partition."""
    entry, partition = node
    return entry if partition is None else f"{entry}[{partition}]"


@dataclass(frozen=True)
class Stale:
    entry: str
    cause: Cause
    reasons: tuple[str, ...]
    partition: str | None = None

    def describe(self) -> str:
        return f"{label((self.entry, self.partition))}: {'; '.join(self.reasons)}"


@dataclass(frozen=True)
class Batch:
    """What one run refreshes: entries of no partition, or one tenant's partitions."""

    partition: str | None
    entries: tuple[str, ...]
    #: The state it refreshes, hashed: the same state always gives the same run key.
    key: str
    reasons: dict[str, str]

    def summary(self, limit: int = 240) -> str:
        text = "; ".join(f"{name}: {why}" for name, why in self.reasons.items())
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Assessment:
    stale: dict[str, Stale] = field(default_factory=dict)
    #: Nodes up to date now but reading a stale one: refreshed with it.
    downstream: set[str] = field(default_factory=set)
    #: What can run now, one run each.
    batches: list[Batch] = field(default_factory=list)
    #: Nodes whose stale upstream is refreshed by another batch first.
    waiting: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return "+".join(batch.key for batch in self.batches)

    @property
    def selection(self) -> list[str]:
        return sorted(set(self.stale) | self.downstream)

    def summary(self, limit: int = 240) -> str:
        text = "; ".join(s.describe() for s in self.stale.values())
        if self.downstream:
            text += f"; downstream: {', '.join(sorted(self.downstream))}"
        return text if len(text) <= limit else text[: limit - 1] + "…"


def nodes_of(catalog: Catalog) -> dict[str, list[str | None]]:
    """Each entry's partitions (``[None]`` for an entry that is not per tenant): the tenants its
    terms, and those of the per-tenant entries it reads, let it run for."""
    found: dict[str, list[str | None]] = {}
    for name in catalog.upstream_order():
        entry = catalog.entries[name]
        if not entry.per_tenant or entry.governance is None:
            found[name] = [None]
            continue
        allowed = list(entry.governance.partitions())
        for upstream in entry.metadata.inputs:
            parent = catalog.entries.get(upstream)
            if parent is not None and parent.per_tenant:
                allowed = [t for t in allowed if t in found.get(upstream, [])]
        found[name] = list(allowed)
    return found


def partition_set_name(tenants: tuple[str, ...], every: tuple[str, ...]) -> str:
    """The Dagster partitions of per-tenant entries that run for ``tenants``: ``tenant`` when
    that is every tenant, else named after them (each distinct set is one dynamic partitions
    definition, so a tenant an entry may not run for is not one of its partitions)."""
    if tenants == every:
        return TENANT_PARTITIONS
    readable = "_".join(tenants)
    if re.fullmatch(r"[A-Za-z0-9_]{1,60}", readable):
        return f"{TENANT_PARTITIONS}_{readable}"
    return f"{TENANT_PARTITIONS}_{hashlib.sha256(repr(tenants).encode()).hexdigest()[:10]}"


def partition_sets(catalog: Catalog) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each per-tenant entry's partitions definition: (its name, the tenants in it)."""
    every = tuple(t.id for t in catalog.tenants)
    return {
        name: (partition_set_name(tuple(parts), every), tuple(parts))
        for name, parts in nodes_of(catalog).items()
        if catalog.entries[name].per_tenant
    }


def input_slots(catalog: Catalog, entry: str, partition: str | None) -> list[Slot]:
    """What each input of ``entry`` reads for ``partition`` (as the run step resolves it)."""
    item = catalog.entries[entry]
    upstream = {
        n: catalog.entries[n].governance for n in item.metadata.inputs if n in catalog.entries
    }
    return slots(item.governance, list(item.metadata.inputs), upstream, partition)


def assess(
    catalog: Catalog,
    code_versions: Mapping[str, str],
    refs: Mapping[Node, Ref],
    source_versions: Mapping[str, str | None],
    only: Collection[Node] | None = None,
) -> Assessment:
    """Compare every node's code and inputs with what production's ref records.

    ``only`` names the nodes to run whatever their state (``catalog materialize NAME``): they are
    selected, nothing else is, and no downstream is added.
    """
    result = Assessment()
    partitions = nodes_of(catalog)
    current: dict[Node, dict[str, str | None]] = {}
    parents: dict[Node, list[Node]] = {}
    order: list[Node] = []
    for name, names in partitions.items():
        for partition in names:
            node = (name, partition)
            order.append(node)
            inputs: dict[str, str | None] = {}
            parents[node] = []
            for slot in input_slots(catalog, name, partition):
                if slot.name in catalog.sources:
                    inputs[slot.label] = source_versions.get(slot.name)
                else:
                    upstream = (slot.name, slot.partition)
                    parents[node].append(upstream)
                    inputs[slot.label] = refs[upstream].sha256 if upstream in refs else None
            current[node] = inputs
            stale = _judge(catalog, node, code_versions[name], refs.get(node), inputs)
            if only is not None:
                stale = (
                    (stale or Stale(name, "code", ("asked for",), partition))
                    if node in only
                    else None
                )
            if stale is not None:
                result.stale[label(node)] = stale

    selected: set[Node] = {(s.entry, s.partition) for s in result.stale.values()}
    for node in order:  # upstream first: one pass closes the downstream
        if only is None and node not in selected and any(p in selected for p in parents[node]):
            selected.add(node)
            result.downstream.add(label(node))

    # One run holds entries of one partitions definition: grouped by it and the partition. A
    # node whose selected upstream is in another group waits for that group's run.
    sets = partition_sets(catalog)

    def group(node: Node) -> tuple[str | None, str | None]:
        return (sets[node[0]][0] if node[0] in sets else None, node[1])

    blocked: set[Node] = set()
    for node in order:
        if node in selected and any(
            p in selected and (group(p) != group(node) or p in blocked) for p in parents[node]
        ):
            blocked.add(node)
    result.waiting = {label(n) for n in blocked}
    groups: dict[tuple[str | None, str | None], list[Node]] = {}
    for node in order:
        if node in selected and node not in blocked:
            groups.setdefault(group(node), []).append(node)
    for (_, partition), members in groups.items():
        reasons = {
            name: (
                "; ".join(result.stale[label((name, p))].reasons)
                if label((name, p)) in result.stale
                else "downstream of a refreshed entry"
            )
            for name, p in members
        }
        identity = [
            [label(n), code_versions[n[0]], sorted(current[n].items()), label(n) in result.stale]
            for n in members
        ]
        blob = json.dumps([partition, identity], sort_keys=True, default=str)
        key = "refresh-" + hashlib.sha256(blob.encode()).hexdigest()[:24]
        result.batches.append(Batch(partition, tuple(name for name, _ in members), key, reasons))
    return result


def _judge(
    catalog: Catalog,
    node: Node,
    code_version: str,
    ref: Ref | None,
    inputs: dict[str, str | None],
) -> Stale | None:
    name, partition = node
    if ref is None:
        return Stale(name, "new", ("production has no version",), partition)
    if ref.code_version != code_version:
        return Stale(
            name, "code", (f"code changed ({ref.code_version} → {code_version})",), partition
        )
    reasons = []
    for upstream, version in inputs.items():
        recorded = ref.inputs.get(upstream)
        if version is None:
            continue  # a missing input cannot be fixed by a refresh; its run would fail
        if recorded is None or recorded.version != version:
            kind = "source" if upstream in catalog.sources else "input"
            was = recorded.version[:12] if recorded else "none"
            reasons.append(f"{kind} {upstream} changed ({was} → {version[:12]})")
    for gone in sorted(set(ref.inputs) - set(inputs)):
        reasons.append(f"input {gone} is no longer read")
    if reasons:
        return Stale(name, "inputs", tuple(reasons), partition)
    return None
