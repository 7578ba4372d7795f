"""Discover and validate the notebook catalog.

A catalog entry is ``<root>/<group>/<name>.ipynb`` plus its metadata file
``<root>/<group>/<name>.yaml``. Raw provider data are *sources*, declared in
``<root>/sources.yaml``. The catalog is plain data: no Dagster imports, so the CLI, the notebook
kernel and the tests use it cheaply.

Every problem of the whole catalog is collected before anything is raised, so a scientist fixes
their branch in one pass: ``CatalogError.problems`` holds one ``Problem`` per line of
``catalog validate`` output (``<file>: <field>: <message>``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog_assets.catalog import graph
from catalog_assets.catalog.checks import CHECK_TYPES
from catalog_assets.catalog.files import Limits, load_yaml
from catalog_assets.catalog.notebooks import NotebookCode, read_notebook
from catalog_assets.catalog.problems import (
    CatalogError,
    Problem,
    closest,
    did_you_mean,
    display_path,
)
from catalog_assets.catalog.schema import (
    GROUP,
    EntryMetadata,
    SourceSpec,
    is_valid_name,
)
from catalog_assets.catalog.terms import (
    TENANTS_FILE,
    Governance,
    Tenant,
    TenantsFile,
    govern,
    reaches,
)

SOURCES_FILE = "sources.yaml"


@dataclass(frozen=True)
class Entry:
    name: str
    group: str
    notebook_path: Path
    metadata_path: Path
    metadata: EntryMetadata
    notebook: NotebookCode
    #: The declarations of the sources it takes as inputs: how they are read is part of what
    #: decides its product.
    input_sources: dict[str, SourceSpec] = field(default_factory=dict)
    #: The data-usage terms that govern it (what it may read, which tenants, which columns).
    governance: Governance | None = None

    @property
    def per_tenant(self) -> bool:
        return self.metadata.tenancy == "per_tenant"


@dataclass(frozen=True)
class BrokenEntry:
    """An entry with problems: still an asset (its downstream keep their dependency), never run.

    ``metadata`` is None when its metadata file could not be read.
    """

    name: str
    group: str
    notebook_path: Path
    metadata_path: Path
    metadata: EntryMetadata | None
    problems: tuple[Problem, ...]
    #: The inputs its metadata file lists, read leniently when the file does not validate.
    declared_inputs: tuple[str, ...] = ()

    @property
    def inputs(self) -> list[str]:
        return list(self.metadata.inputs) if self.metadata else list(self.declared_inputs)


@dataclass(frozen=True)
class Catalog:
    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    broken: dict[str, BrokenEntry] = field(default_factory=dict)
    #: The tenants of tenants.yaml, in order.
    tenants: tuple[Tenant, ...] = ()

    def entry(self, name: str) -> Entry:
        return self.entries[name]

    @property
    def graph(self) -> dict[str, list[str]]:
        """Entry -> the entries it takes as inputs (sources left out)."""
        return {
            name: [i for i in entry.metadata.inputs if i in self.entries]
            for name, entry in self.entries.items()
        }

    def upstream_order(self) -> list[str]:
        """Entry names so that every entry comes after the entries it takes as inputs."""
        return graph.upstream_order(self.graph)


def load_catalog(root: Path | str, *, strict: bool = True, limits: Limits | None = None) -> Catalog:
    """Read and validate the whole catalog under ``root``.

    ``strict``: raise on any error. Otherwise the entries with errors are returned as
    ``Catalog.broken`` and only problems that concern no single entry (``sources.yaml``, a missing
    catalog) raise.

    Raises:
        CatalogError: listing every problem found, never just the first.
    """
    catalog, problems = inspect_catalog(root, limits=limits)
    errors = [p for p in problems if p.severity == "error"]
    if strict and errors:
        raise CatalogError(errors)
    owned = {p for b in catalog.broken.values() for p in b.problems}
    unowned = [p for p in errors if p not in owned]
    if unowned:
        raise CatalogError(unowned)
    return catalog


def inspect_catalog(
    root: Path | str, *, static: bool = False, limits: Limits | None = None
) -> tuple[Catalog, list[Problem]]:
    """Read the catalog under ``root``; return what is valid and every problem found.

    ``static`` adds the checks of each notebook's code (``catalog.static``), which parse every
    notebook: ``catalog validate`` runs them, loading the code location does not.
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return Catalog(root=root), [
            Problem(root, "catalog", "catalog directory does not exist (set CATALOG_DIR?)")
        ]

    limits = limits or Limits()
    sources, broken_sources = read_sources(root / SOURCES_FILE, problems, limits)
    entries: dict[str, Entry] = {}
    declared: dict[str, tuple[Path, EntryMetadata]] = {}
    by_name: dict[str, list[tuple[Path, Path]]] = {}
    for metadata_path, notebook_path in _entry_files(root, problems):
        name, group = metadata_path.stem, metadata_path.parent.name
        by_name.setdefault(name, []).append((metadata_path, notebook_path))
        metadata = _read_metadata(metadata_path, root, limits, problems)
        notebook = read_notebook(
            notebook_path, problems, bool(metadata and metadata.params), root, limits
        )
        if metadata is not None:
            declared.setdefault(name, (metadata_path, metadata))
            if notebook is not None:
                used = {i: sources[i] for i in metadata.inputs if i in sources}
                entry = Entry(name, group, notebook_path, metadata_path, metadata, notebook, used)
                entries.setdefault(name, entry)

    for name, pairs in by_name.items():
        paths = [metadata_path for metadata_path, _ in pairs]
        if len(paths) > 1:
            others = ", ".join(display_path(p) for p in paths)
            for path in paths:
                problems.append(
                    Problem(path, "name", f"entry name {name!r} is used by more than one: {others}")
                )
        if name in sources:
            problems.append(
                Problem(
                    paths[0], "name", f"{name!r} is also a source in {SOURCES_FILE}; rename one"
                )
            )

    _check_inputs(declared, set(by_name), sources, broken_sources, problems)
    _check_trusted_types(declared, root.resolve().parent, problems)
    before = len(problems)
    tenants = read_tenants(root / TENANTS_FILE, sources, limits, problems, broken_sources)
    tenants_broken = len(problems) > before
    for name, governance in _govern(declared, sources, tenants, tenants_broken, problems).items():
        if name in entries:
            entries[name] = dataclasses.replace(entries[name], governance=governance)
    if static:
        from catalog_assets.catalog.static import check_code

        for entry in entries.values():
            problems.extend(check_code(entry, set(by_name), sources, root.resolve().parent))

    failing = {p.path for p in problems if p.severity == "error"}
    broken: dict[str, BrokenEntry] = {}
    for name, pairs in by_name.items():
        metadata_path, notebook_path = pairs[0]
        own = {path for pair in pairs for path in pair}
        if own & failing or name not in entries:
            broken[name] = BrokenEntry(
                name,
                metadata_path.parent.name,
                notebook_path,
                metadata_path,
                declared.get(name, (None, None))[1],
                tuple(sorted((p for p in problems if p.path in own), key=_order)),
                () if name in declared else _lenient_inputs(metadata_path),
            )
    valid = {n: e for n, e in entries.items() if n not in broken}
    problems.sort(key=_order)
    catalog = Catalog(root=root, entries=valid, sources=sources, broken=broken, tenants=tenants)
    return catalog, problems


def read_tenants(
    path: Path,
    sources: dict[str, SourceSpec],
    limits: Limits,
    problems: list[Problem],
    broken_sources: Collection[str] = (),
) -> tuple[Tenant, ...]:
    """The tenants of ``tenants.yaml`` (none without the file); an opt-out naming a source
    whose own description is broken is judged once that is fixed."""
    if not path.exists() and not path.is_symlink():
        return ()
    readable, data = load_yaml(path, path.parent, limits, problems)
    if not readable:
        return ()
    if not isinstance(data, dict):
        problems.append(Problem(path, "tenants", "must be a mapping with a 'tenants' list"))
        return ()
    try:
        parsed = TenantsFile.model_validate(data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(path, error, TenantsFile))
        return ()
    tenant_sources = {n for n, s in sources.items() if s.terms and s.terms.tenant_column}
    purposes = {p for s in sources.values() if s.terms for p in s.terms.allowed_purposes}
    for index, tenant in enumerate(parsed.tenants):
        for number, opt_out in enumerate(tenant.opt_out):
            where = f"tenants.{index}.opt_out.{number}"
            for name in opt_out.sources or ():
                if name not in tenant_sources and name not in broken_sources:
                    problems.append(
                        Problem(
                            path,
                            f"{where}.sources",
                            f"{name!r} is not a source with a tenant column in {SOURCES_FILE}"
                            + did_you_mean(name, tenant_sources),
                        )
                    )
            for purpose in [*opt_out.purposes, *opt_out.pooled]:
                if purpose not in purposes:
                    problems.append(
                        Problem(
                            path,
                            where,
                            f"{purpose!r} is a purpose no source's terms mention"
                            + did_you_mean(purpose, purposes),
                        )
                    )
    return tuple(parsed.tenants)


def _govern(
    declared: dict[str, tuple[Path, EntryMetadata]],
    sources: dict[str, SourceSpec],
    tenants: tuple[Tenant, ...],
    tenants_broken: bool,
    problems: list[Problem],
) -> dict[str, Governance]:
    """Each declared entry's governance under the terms, and its problems under them.

    An entry reading a broken upstream (an entry whose metadata has problems, a source
    sources.yaml cannot describe) is judged once that is fixed: what it reads is unknown until
    then. So is one that depends on a broken tenants.yaml."""
    graph_ = {name: list(meta.inputs) for name, (_, meta) in declared.items()}
    reach = reaches(graph_, set(sources))
    terms = {n: s.terms for n, s in sources.items() if s.terms is not None}
    providers = {n: s.provider for n, s in sources.items()}
    found = {}
    for name, (path, meta) in declared.items():
        governance, issues = govern(
            name,
            meta.purpose,
            meta.tenancy,
            meta.personal_data.columns if meta.personal_data else [],
            reach[name],
            terms,
            providers,
            tenants,
            {i: declared[i][1].tenancy for i in meta.inputs if i in declared},
        )
        if any(i not in declared and i not in sources for i in meta.inputs):
            issues = []
        if tenants_broken:
            issues = [(w, m) for w, m in issues if TENANTS_FILE not in m]
        problems.extend(Problem(path, where, message) for where, message in issues)
        found[name] = governance
    return found


def _lenient_inputs(path: Path) -> tuple[str, ...]:
    """The ``inputs`` a metadata file lists, if it is readable at all (its problems are reported
    elsewhere)."""
    _, data = load_yaml(path, path.parent.parent, Limits(), [])
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list):
        return ()
    return tuple(i for i in inputs if isinstance(i, str) and is_valid_name(i))


def _order(problem: Problem) -> tuple[str, str, str]:
    return (str(problem.path), problem.field, problem.message)


def _entry_files(root: Path, problems: list[Problem]) -> list[tuple[Path, Path]]:
    """(metadata, notebook) paths of every entry; misplaced files become problems.

    One directory listing per folder (os.walk), no per-file stat: catalogs have thousands of files.
    """
    pairs = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))  # checkpoints
        relative = Path(folder).relative_to(root)
        depth = len(relative.parts) + 1
        present = set(files)
        for name in sorted(files):
            stem, suffix = os.path.splitext(name)
            if suffix not in (".yaml", ".yml", ".ipynb") or name.startswith("."):
                continue
            path = Path(folder, name)
            if depth == 1:
                if name not in (SOURCES_FILE, TENANTS_FILE):
                    problems.append(
                        Problem(
                            path,
                            "location",
                            f"catalog entries live in <group>/<name>; move it into a group folder "
                            f"(only {SOURCES_FILE} and {TENANTS_FILE} belong at the top)",
                        )
                    )
            elif depth > 2:
                problems.append(
                    Problem(
                        path, "location", "catalog entries live exactly one folder deep: <group>/"
                    )
                )
            elif suffix == ".yml":
                problems.append(Problem(path, "file", "use the .yaml extension for entry metadata"))
            elif suffix == ".ipynb":
                if f"{stem}.yaml" not in present:
                    problems.append(
                        Problem(
                            path,
                            "metadata",
                            f"notebook has no metadata file; add {stem}.yaml with at least "
                            "description and owner",
                        )
                    )
            elif not GROUP.match(relative.name):
                problems.append(
                    Problem(
                        path,
                        "group",
                        f"group folder {relative.name!r} must use only letters, digits and '_'",
                    )
                )
            elif not is_valid_name(stem):
                problems.append(
                    Problem(
                        path,
                        "name",
                        f"entry name {stem!r} must be a Python identifier (letters, digits, "
                        "'_', not starting with a digit, not a keyword)",
                    )
                )
            else:
                pairs.append((path, Path(folder, f"{stem}.ipynb")))
    return pairs


def _location(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path, without the check-type tag pydantic adds
    after a check's index (``checks.0.row_count.row_count`` is ``checks.0.row_count``)."""
    parts = list(loc)
    for index in range(len(parts) - 2):
        if parts[index] == "checks" and isinstance(parts[index + 1], int):
            if parts[index + 2] in CHECK_TYPES:
                del parts[index + 2]
            break
    return ".".join(str(p) for p in parts)


@functools.cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    """Every field name the model and the models inside it know, for spelling suggestions."""
    schema = model.model_json_schema()
    parts = [schema, *schema.get("$defs", {}).values()]
    return frozenset(name for part in parts for name in part.get("properties", {}))


def _pydantic_problems(
    path: Path, error: ValidationError, model: type[BaseModel], prefix: str = ""
) -> list[Problem]:
    items = error.errors()
    missing = {item["loc"] for item in items if item["type"] == "missing"}
    found = []
    for item in items:
        location = _location(item["loc"])
        where = f"{prefix}{location}" if location else (prefix.rstrip(".") or "metadata")
        message = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        if item["type"] == "extra_forbidden":
            unknown = str(item["loc"][-1])
            hint = closest(unknown, _field_names(model))
            message = (
                f"unknown field; did you mean {hint!r}?"
                if hint
                else "unknown field; remove it or check its spelling"
            )
            if (*item["loc"][:-1], hint) in missing:
                message += f" ({hint} is required)"
        elif item["type"] == "missing":
            if any(
                i["type"] == "extra_forbidden"
                and i["loc"][:-1] == item["loc"][:-1]
                and closest(str(i["loc"][-1]), _field_names(model)) == item["loc"][-1]
                for i in items
            ):
                continue  # reported with the misspelt field that was meant to give it
            message = "required field is missing"
        elif message.startswith("Input should") and isinstance(given, str | int | float | bool):
            # Name the value the user wrote: "'modle': should be 'dataset' or 'model'".
            shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
            message = f"{shown}: {message.removeprefix('Input ')}"
        found.append(Problem(path, where, message))
    return found


def read_sources(
    path: Path, problems: list[Problem], limits: Limits | None = None
) -> tuple[dict[str, SourceSpec], set[str]]:
    """The valid sources of ``sources.yaml``, and the names of the invalid ones.

    Each source is checked on its own, so one bad source costs only the entries that read it;
    those are told which source is at fault instead of being told it does not exist.
    """
    if not path.exists() and not path.is_symlink():
        return {}, set()
    readable, data = load_yaml(path, path.parent, limits or Limits(), problems)
    if not readable:
        return {}, set()
    if not isinstance(data, dict):
        problems.append(Problem(path, "sources", "must be a mapping with a 'sources' list"))
        return {}, set()
    for key in data:
        if key != "sources":
            problems.append(
                Problem(path, str(key), "unknown field" + (did_you_mean(str(key), ["sources"])))
            )
    items = data.get("sources") or []
    if not isinstance(items, list):
        problems.append(Problem(path, "sources", "must be a list of sources"))
        return {}, set()
    sources: dict[str, SourceSpec] = {}
    broken: set[str] = set()
    for index, item in enumerate(items):
        try:
            source = SourceSpec.model_validate(item)
        except ValidationError as error:
            problems.extend(_pydantic_problems(path, error, SourceSpec, f"sources.{index}."))
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                broken.add(item["name"])
            continue
        if source.name in sources:
            problems.append(
                Problem(path, f"sources.{index}.name", f"source {source.name!r} is declared twice")
            )
        sources[source.name] = source
    return sources, broken - set(sources)


def _read_metadata(
    path: Path, root: Path, limits: Limits, problems: list[Problem]
) -> EntryMetadata | None:
    readable, data = load_yaml(path, root, limits, problems)
    if not readable:
        return None  # unreadable or invalid YAML, already reported
    if data is None:
        problems.append(
            Problem(path, "metadata", "the file is empty: give at least description and owner")
        )
        return None
    if not isinstance(data, dict):
        problems.append(
            Problem(
                path,
                "metadata",
                f"must be a mapping of fields (description, owner, ...), not {type(data).__name__}",
            )
        )
        return None
    try:
        return EntryMetadata.model_validate(data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(path, error, EntryMetadata))
        return None


def _check_inputs(
    declared: dict[str, tuple[Path, EntryMetadata]],
    entry_names: set[str],
    sources: dict[str, SourceSpec],
    broken_sources: set[str],
    problems: list[Problem],
) -> None:
    for name, (path, metadata) in declared.items():
        for index, upstream in enumerate(metadata.inputs):
            where = f"inputs.{index}"
            if upstream == name:
                problems.append(Problem(path, where, "an entry cannot be its own input"))
            elif upstream in broken_sources:
                message = f"source {upstream!r} is invalid; fix it in {SOURCES_FILE}"
                problems.append(Problem(path, where, message))
            elif upstream not in entry_names and upstream not in sources:
                problems.append(
                    Problem(
                        path,
                        where,
                        f"unknown input {upstream!r}: not a catalog entry nor a source in "
                        f"{SOURCES_FILE}" + did_you_mean(upstream, entry_names | set(sources)),
                    )
                )
    dependencies = {
        name: [i for i in metadata.inputs if i in declared and i != name]
        for name, (_, metadata) in declared.items()
    }
    for cycle in graph.cycles(dependencies):
        loop = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            problems.append(Problem(declared[name][0], "inputs", f"dependency cycle: {loop}"))


def _check_trusted_types(
    declared: dict[str, tuple[Path, EntryMetadata]], repository: Path, problems: list[Problem]
) -> None:
    """Each declared trusted type is a class in an importable module of the repository."""
    names = {n for _, meta in declared.values() for n in meta.trusted_types}
    if not names:
        return
    origins = {name: _module_origin(name, repository) for name in names}
    for path, metadata in declared.values():
        for index, name in enumerate(metadata.trusted_types):
            origin = origins[name]
            if origin is None:
                problems.append(
                    Problem(
                        path,
                        f"trusted_types.{index}",
                        f"cannot find the module of {name!r}; put the class in a module of this "
                        f"repository ({repository}) and name it as module.Class",
                    )
                )
            elif not origin.is_relative_to(repository) or "site-packages" in origin.parts:
                problems.append(
                    Problem(
                        path,
                        f"trusted_types.{index}",
                        f"{name!r} is defined in {origin}, outside this repository; only classes "
                        "of this repository can be declared trusted",
                    )
                )


def _module_origin(name: str, repository: Path) -> Path | None:
    """The file of the longest importable module prefix of a dotted class name (never run)."""
    import importlib.util
    import sys

    parts = name.split(".")
    added = str(repository) not in sys.path
    if added:
        sys.path.insert(0, str(repository))
    try:
        for cut in range(len(parts) - 1, 0, -1):
            try:
                spec = importlib.util.find_spec(".".join(parts[:cut]))
            except (ImportError, ValueError):
                continue
            if spec is not None and spec.origin:
                return Path(spec.origin).resolve()
        return None
    finally:
        if added:
            sys.path.remove(str(repository))
