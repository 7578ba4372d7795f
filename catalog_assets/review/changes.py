"""What a branch changes in the catalog, entry by entry, and what a preview does about each.

One class per kind of change, each with its name, what a preview runs for it and how it reads in a
report. ``classify`` compares two catalogs (the base's and the head's) by their fingerprints: a
changed code version means the product may change; only a changed checks version means re-run the
checks; only a changed metadata version means nothing runs. Entries downstream of a new or changed
entry are stale. No Dagster imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from catalog_assets.catalog import graph
from catalog_assets.catalog.discovery import Catalog, Entry
from catalog_assets.catalog.fingerprint import Versions, fields_of, versions

Runs = Literal["materialize", "checks", "nothing"]
SCHEMA = "catalog-diff/1"


@dataclass(frozen=True)
class Change:
    """One entry's change from base to head."""

    kind: ClassVar[str]
    runs: ClassVar[Runs]
    name: str
    group: str
    base: Versions | None = None
    head: Versions | None = None
    #: What changed: "code cells", field names, or for stale entries the upstream that changed.
    what: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        def dumped(v: Versions | None) -> dict[str, str] | None:
            return (
                None if v is None else {"code": v.code, "checks": v.checks, "metadata": v.metadata}
            )

        return {
            "name": self.name,
            "group": self.group,
            "change": self.kind,
            "runs": self.runs,
            "what": list(self.what),
            "base": dumped(self.base),
            "head": dumped(self.head),
            "problems": list(self.problems),
        }


class New(Change):
    kind = "new"
    runs = "materialize"

    def describe(self) -> str:
        return "a new entry"


class Removed(Change):
    kind = "removed"
    runs = "nothing"

    def describe(self) -> str:
        users = f"; its downstream: {', '.join(self.what)}" if self.what else ""
        return f"removed from the catalog{users}"


class CodeChange(Change):
    kind = "code"
    runs = "materialize"

    def describe(self) -> str:
        return f"code changed ({', '.join(self.what)})"


class ChecksChange(Change):
    kind = "checks"
    runs = "checks"

    def describe(self) -> str:
        return "only its checks changed"


class MetadataChange(Change):
    kind = "metadata"
    runs = "nothing"

    def describe(self) -> str:
        return f"only descriptive metadata changed ({', '.join(self.what)})"


class Stale(Change):
    kind = "stale"
    runs = "materialize"

    def describe(self) -> str:
        return f"downstream of {', '.join(self.what)}, which changed"


class Invalid(Change):
    kind = "invalid"
    runs = "nothing"

    def describe(self) -> str:
        return "has problems and cannot run: " + "; ".join(self.problems)


@dataclass(frozen=True)
class SourceChange:
    name: str
    kind: Literal["added", "removed", "changed"]
    what: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "change": self.kind, "what": list(self.what)}


@dataclass
class Changes:
    entries: list[Change] = field(default_factory=list)
    sources: list[SourceChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.entries if c.kind == kind]

    def runs(self, what: Runs) -> list[str]:
        return [c.name for c in self.entries if c.runs == what]

    def summary(self) -> dict[str, int]:
        kinds = ("new", "removed", "code", "checks", "metadata", "stale", "invalid")
        return {**{k: len(self.of(k)) for k in kinds}, "unchanged": len(self.unchanged)}


def _changed_fields(base: Entry, head: Entry, kind: str) -> list[str]:
    old = base.metadata.model_dump(mode="json", include=set(fields_of(kind)))
    new = head.metadata.model_dump(mode="json", include=set(fields_of(kind)))
    changed = [name for name in fields_of(kind) if old.get(name) != new.get(name)]
    if kind == "code":
        if base.notebook.code_cells != head.notebook.code_cells:
            changed.insert(0, "code cells")
        for name in sorted(set(base.input_sources) | set(head.input_sources)):
            before, after = base.input_sources.get(name), head.input_sources.get(name)
            if (
                before is not None
                and after is not None
                and before.model_dump(include={"location", "format", "read"})
                != after.model_dump(include={"location", "format", "read"})
            ):
                changed.append(f"how source {name} is read")
    if kind == "metadata" and base.group != head.group:
        changed.append("group")
    return changed


def classify(base: Catalog, head: Catalog) -> Changes:
    """Every entry's change from ``base`` to ``head``, and the changed sources."""
    changes = Changes()
    direct: dict[str, Change] = {}
    for name, entry in head.entries.items():
        head_versions = versions(entry)
        old = base.entries.get(name)
        if old is None:
            direct[name] = New(name, entry.group, None, head_versions)
            continue
        base_versions = versions(old)
        if base_versions.code != head_versions.code:
            what = tuple(_changed_fields(old, entry, "code")) or ("code",)
            direct[name] = CodeChange(name, entry.group, base_versions, head_versions, what)
        elif base_versions.checks != head_versions.checks:
            direct[name] = ChecksChange(
                name, entry.group, base_versions, head_versions, ("checks",)
            )
        elif base_versions.metadata != head_versions.metadata:
            what = tuple(_changed_fields(old, entry, "metadata"))
            direct[name] = MetadataChange(name, entry.group, base_versions, head_versions, what)
    for name, broken in head.broken.items():
        old = base.entries.get(name)
        direct[name] = Invalid(
            name,
            broken.group,
            versions(old) if old else None,
            None,
            problems=tuple(str(p) for p in broken.problems),
        )
    for name, entry in base.entries.items():
        if name not in head.entries and name not in head.broken:
            users = sorted(graph.downstream(base.graph, [name]))
            direct[name] = Removed(name, entry.group, versions(entry), None, tuple(users))

    changed_roots = [n for n, c in direct.items() if c.kind in ("new", "code")]
    head_graph = head.graph
    for name in sorted(graph.downstream(head_graph, changed_roots)):
        if direct.get(name) is not None and direct[name].runs == "materialize":
            continue
        causes = tuple(sorted(u for u in graph.upstream(head_graph, [name]) if u in changed_roots))
        entry = head.entries[name]
        base_entry = base.entries.get(name)
        direct[name] = Stale(
            name, entry.group, versions(base_entry) if base_entry else None, versions(entry), causes
        )
    order = {name: index for index, name in enumerate(head.upstream_order())}
    changes.entries = sorted(direct.values(), key=lambda c: (order.get(c.name, -1), c.name))
    changes.unchanged = sorted(n for n in head.entries if n not in direct)
    changes.sources = _source_changes(base, head)
    return changes


def _source_changes(base: Catalog, head: Catalog) -> list[SourceChange]:
    found = []
    for name in sorted(set(base.sources) | set(head.sources)):
        old, new = base.sources.get(name), head.sources.get(name)
        if old is None:
            found.append(SourceChange(name, "added"))
        elif new is None:
            found.append(SourceChange(name, "removed"))
        elif old != new:
            before, after = old.model_dump(), new.model_dump()
            found.append(
                SourceChange(name, "changed", tuple(k for k in after if before.get(k) != after[k]))
            )
    return found


def to_json(changes: Changes, base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """The stable ``--json`` form of ``catalog diff`` (documented in the README)."""
    return {
        "schema": SCHEMA,
        "base": base,
        "head": head,
        "entries": [c.to_json() for c in changes.entries],
        "sources": [s.to_json() for s in changes.sources],
        "summary": changes.summary(),
    }
