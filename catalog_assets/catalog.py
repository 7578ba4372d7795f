"""Read and validate the notebook catalog.

A catalog entry is ``<root>/<group>/<name>.ipynb`` plus its sidecar ``<root>/<group>/<name>.yaml``.
Raw provider data are *sources*, declared in ``<root>/sources.yaml``. The catalog is plain data:
this module has no Dagster imports, so the CLI, the notebook kernel and the tests use it cheaply.

Every problem of the whole catalog is collected before anything is raised, so a scientist fixes
their branch in one pass: ``CatalogError.problems`` holds one ``Problem`` per line of
``catalog validate`` output (``<file>: <field>: <message>``).
"""

from __future__ import annotations

import json
import keyword
import os
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from catalog_assets.cron import cron_problem

SOURCES_FILE = "sources.yaml"
PARAMETERS_TAG = "parameters"
KERNEL_NAME = "python3"

# Dagster's own rules, mirrored here so `catalog validate` reports them per file and field instead
# of Dagster raising on the first one at definition time (tests/test_catalog.py keeps them in step).
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")
_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROUP = re.compile(r"^[A-Za-z0-9_]+$")
_METRIC = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|==|>|<)\s*"
    r"(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$"
)
_SAFE_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalog: the file, the field within it, and what to do."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}: {self.field}: {self.message}"


class CatalogError(Exception):
    """The catalog is invalid; ``problems`` lists every problem found, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(str(p) for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"The notebook catalog has {count} problem{'s' if count != 1 else ''}:\n{lines}"
        )


def display_path(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def is_valid_owner(owner: str) -> bool:
    """Dagster's owner rule: an email address or ``team:<name>``."""
    return bool(_EMAIL.fullmatch(owner)) or (owner.startswith("team:") and len(owner) > 5)


def check_owner(owner: str) -> str:
    if not is_valid_owner(owner):
        raise ValueError(
            f"{owner!r} is not an owner Dagster accepts: use an email address "
            "(jane@example.com) or a team name prefixed with 'team:' (team:data-science)"
        )
    return owner


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AcceptedValues(_Strict):
    column: str
    values: list[str | int | float | bool] = Field(min_length=1)


class RowCount(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


CHECK_TYPES = ("not_null", "unique", "accepted_values", "row_count", "metric")
DATA_CHECK_TYPES = ("not_null", "unique", "accepted_values", "row_count")


class CheckSpec(_Strict):
    """One declared check: exactly one check type; ``blocking`` stops downstream on failure."""

    not_null: list[str] | None = Field(default=None, min_length=1)
    unique: list[str] | None = Field(default=None, min_length=1)
    accepted_values: AcceptedValues | None = None
    row_count: RowCount | None = None
    metric: str | None = None
    blocking: bool = False
    description: str | None = None

    @model_validator(mode="after")
    def _one_type(self) -> CheckSpec:
        given = [t for t in CHECK_TYPES if getattr(self, t) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(CHECK_TYPES)} (got {', '.join(given) or 'none'})"
            )
        if self.metric is not None and not _METRIC.match(self.metric):
            raise ValueError(
                f"metric threshold {self.metric!r} is not of the form '<metric> <op> <number>' "
                "with op one of >=, <=, >, <, == (e.g. 'roc_auc >= 0.7')"
            )
        return self

    @property
    def type(self) -> str:
        return next(t for t in CHECK_TYPES if getattr(self, t) is not None)

    @property
    def metric_threshold(self) -> tuple[str, str, float]:
        match = _METRIC.match(self.metric or "")
        assert match, "only metric checks have a threshold"
        return match["metric"], match["op"], float(match["value"])

    @property
    def name(self) -> str:
        """A stable check name derived from what is checked (an identifier, as Dagster needs)."""
        if self.not_null is not None:
            parts = ["not_null", *self.not_null]
        elif self.unique is not None:
            parts = ["unique", *self.unique]
        elif self.accepted_values is not None:
            parts = ["accepted_values", self.accepted_values.column]
        elif self.row_count is not None:
            parts = ["row_count"]
        else:
            parts = ["metric", self.metric_threshold[0]]
        return re.sub(r"[^A-Za-z0-9_]+", "_", "__".join(parts)).strip("_")


Identifier = Annotated[str, Field(pattern=_NAME.pattern)]


class EntryMetadata(_Strict):
    """The sidecar ``<name>.yaml`` of a catalog entry."""

    description: str = Field(min_length=1)
    owner: str
    kind: Literal["dataset", "model"] = "dataset"
    inputs: list[str] = Field(default_factory=list)
    schedule: str | None = None
    checks: list[CheckSpec] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        return check_owner(value)

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: list[str]) -> list[str]:
        for name in value:
            if not is_valid_name(name):
                raise ValueError(
                    f"{name!r} is not a valid Python identifier; each input becomes a notebook "
                    "variable of the same name"
                )
        duplicates = sorted({n for n in value if value.count(n) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None and (problem := cron_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not _TAG_KEY.match(key) or key.startswith("dagster/"):
                raise ValueError(
                    f"tag key {key!r} is not allowed: use letters, digits, '_', '-', '.', at most "
                    "63 characters, optionally one 'namespace/' prefix (not 'dagster/')"
                )
            if not _TAG_VALUE.match(tag_value):
                raise ValueError(
                    f"tag {key!r} value {tag_value!r} is not allowed: use letters, digits, "
                    "'_', '-', '.', at most 63 characters"
                )
        return value

    @model_validator(mode="after")
    def _checks_fit_kind(self) -> EntryMetadata:
        names = [c.name for c in self.checks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"checks: the same check is declared twice: {', '.join(duplicates)}")
        if self.kind == "model":
            data_checks = [c.type for c in self.checks if c.type in DATA_CHECK_TYPES]
            if data_checks:
                raise ValueError(
                    f"checks: {', '.join(data_checks)} check tables, but this entry is a model; "
                    "models take metric thresholds (metric: 'roc_auc >= 0.7')"
                )
        return self


class SourceSpec(_Strict):
    """Raw provider data, declared in ``sources.yaml``; no deployment ever writes it."""

    name: Identifier
    description: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    location: str = Field(min_length=1)
    format: Literal["parquet", "csv"] = "parquet"
    owner: str | None = None

    @field_validator("location")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = Path(value).parts
        if Path(value).is_absolute() or ".." in parts or value.startswith("/"):
            raise ValueError(
                f"{value!r} must be a relative path inside the sources area (no '..', not absolute)"
            )
        return value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return check_owner(value) if value is not None else None


class SourcesFile(_Strict):
    sources: list[SourceSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class NotebookCode:
    """What of a notebook matters for running and versioning it."""

    code_cells: tuple[str, ...]
    kernel_name: str | None
    parameters_cell: int | None  # index among all cells of the cell tagged `parameters`


@dataclass(frozen=True)
class Entry:
    name: str
    group: str
    notebook_path: Path
    metadata_path: Path
    metadata: EntryMetadata
    notebook: NotebookCode


@dataclass(frozen=True)
class Catalog:
    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)

    def entry(self, name: str) -> Entry:
        return self.entries[name]

    def upstream_order(self) -> list[str]:
        """Entry names so that every entry comes after the entries it takes as inputs."""
        graph = {
            name: [i for i in entry.metadata.inputs if i in self.entries]
            for name, entry in sorted(self.entries.items())
        }
        return list(TopologicalSorter(graph).static_order())


def is_valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and not keyword.iskeyword(name)


def default_catalog_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """``CATALOG_DIR`` if set, else ``notebooks/`` in the project."""
    from catalog_assets.deployment import project_home

    environ = os.environ if environ is None else environ
    configured = environ.get("CATALOG_DIR")
    return Path(configured) if configured else project_home(environ) / "notebooks"


def load_catalog(root: Path | str) -> Catalog:
    """Read and validate the whole catalog under ``root``.

    Raises:
        CatalogError: listing every problem found, never just the first.
    """
    catalog, problems = inspect_catalog(root)
    if problems:
        raise CatalogError(problems)
    return catalog


def inspect_catalog(root: Path | str) -> tuple[Catalog, list[Problem]]:
    """Read the catalog under ``root``; return what is valid and every problem found."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return Catalog(root=root), [
            Problem(root, "catalog", "catalog directory does not exist (set CATALOG_DIR?)")
        ]

    sources = read_sources(root / SOURCES_FILE, problems)
    entries: dict[str, Entry] = {}
    declared: dict[str, tuple[Path, EntryMetadata]] = {}
    by_name: dict[str, list[Path]] = {}
    for metadata_path, notebook_path in _entry_files(root, problems):
        name, group = metadata_path.stem, metadata_path.parent.name
        by_name.setdefault(name, []).append(metadata_path)
        metadata = _read_metadata(metadata_path, problems)
        notebook = read_notebook(notebook_path, problems)
        if metadata is not None:
            declared.setdefault(name, (metadata_path, metadata))
            if notebook is not None:
                entry = Entry(name, group, notebook_path, metadata_path, metadata, notebook)
                entries.setdefault(name, entry)

    for name, paths in by_name.items():
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

    _check_inputs(declared, set(by_name), sources, problems)
    valid = {n: e for n, e in entries.items() if len(by_name[n]) == 1}
    problems.sort(key=lambda p: (str(p.path), p.field, p.message))
    return Catalog(root=root, entries=valid, sources=sources), problems


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
                if name != SOURCES_FILE:
                    problems.append(
                        Problem(
                            path,
                            "location",
                            f"catalog entries live in <group>/<name>; move it into a group folder "
                            f"(only {SOURCES_FILE} belongs at the top)",
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
            elif not _GROUP.match(relative.name):
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


def _load_yaml(path: Path, problems: list[Problem]) -> Any | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(path, "file", f"cannot read: {error}"))
        return None
    try:
        return yaml.load(text, Loader=_SAFE_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        reason = getattr(error, "problem", None) or str(error)
        problems.append(Problem(path, where, f"invalid YAML: {reason}"))
        return None


def _pydantic_problems(path: Path, error: ValidationError, prefix: str = "") -> list[Problem]:
    found = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"])
        where = f"{prefix}{location}" if location else (prefix.rstrip(".") or "metadata")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        elif item["type"] == "missing":
            message = "required field is missing"
        found.append(Problem(path, where, message))
    return found


def read_sources(path: Path, problems: list[Problem]) -> dict[str, SourceSpec]:
    if not path.exists():
        return {}
    data = _load_yaml(path, problems)
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(path, "sources", "must be a mapping with a 'sources' list"))
        return {}
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(path, error))
        return {}
    sources: dict[str, SourceSpec] = {}
    for index, source in enumerate(parsed.sources):
        if source.name in sources:
            problems.append(
                Problem(path, f"sources.{index}.name", f"source {source.name!r} is declared twice")
            )
        sources[source.name] = source
    return sources


def _read_metadata(path: Path, problems: list[Problem]) -> EntryMetadata | None:
    data = _load_yaml(path, problems)
    if data is None and path.stat().st_size != 0:
        return None  # unreadable or invalid YAML, already reported
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
        problems.extend(_pydantic_problems(path, error))
        return None


def read_notebook(path: Path, problems: list[Problem]) -> NotebookCode | None:
    """Read what matters of a notebook, adding a problem for anything that stops it running."""
    try:
        data = json.loads(path.read_bytes())
        cells = data["cells"]
        assert isinstance(cells, list)
    except FileNotFoundError:
        problems.append(
            Problem(path, "notebook", f"missing; every metadata file needs {path.name} beside it")
        )
        return None
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as error:
        problems.append(Problem(path, "notebook", f"unreadable as a Jupyter notebook: {error}"))
        return None

    parameters = [
        index
        for index, cell in enumerate(cells)
        if cell.get("cell_type") == "code"
        and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if not parameters:
        problems.append(
            Problem(
                path,
                "parameters",
                "no code cell is tagged 'parameters'; tag the cell holding the local defaults of "
                "the inputs (it is replaced in a run)",
            )
        )
    elif len(parameters) > 1:
        problems.append(Problem(path, "parameters", "more than one cell is tagged 'parameters'"))
    kernel = data.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        problems.append(
            Problem(
                path,
                "metadata.kernelspec.name",
                f"kernel is {kernel!r}; catalog notebooks run on {KERNEL_NAME!r} (the "
                "deployment's own Python); pick that kernel in Jupyter",
            )
        )
    code = tuple(
        "".join(cell["source"]) if isinstance(cell.get("source"), list) else cell.get("source", "")
        for cell in cells
        if cell.get("cell_type") == "code"
    )
    return NotebookCode(code, kernel, parameters[0] if parameters else None)


def _check_inputs(
    declared: dict[str, tuple[Path, EntryMetadata]],
    entry_names: set[str],
    sources: dict[str, SourceSpec],
    problems: list[Problem],
) -> None:
    for name, (path, metadata) in declared.items():
        for index, upstream in enumerate(metadata.inputs):
            if upstream == name:
                problems.append(
                    Problem(path, f"inputs.{index}", "an entry cannot be its own input")
                )
            elif upstream not in entry_names and upstream not in sources:
                problems.append(
                    Problem(
                        path,
                        f"inputs.{index}",
                        f"unknown input {upstream!r}: not a catalog entry nor a source in "
                        f"{SOURCES_FILE}",
                    )
                )
    graph = {
        name: [i for i in metadata.inputs if i in declared and i != name]
        for name, (_, metadata) in declared.items()
    }
    for cycle in _cycles(graph):
        loop = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            problems.append(Problem(declared[name][0], "inputs", f"dependency cycle: {loop}"))


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every dependency cycle, each as its entries in data-flow order (input before user)."""
    graph = {node: list(inputs) for node, inputs in graph.items()}
    found: list[list[str]] = []
    while True:
        try:
            TopologicalSorter(graph).prepare()
            return found
        except CycleError as error:
            cycle = error.args[1][:-1]  # each node is an input of the next; first == last
            found.append(cycle)
            graph[cycle[1]].remove(cycle[0])  # break it and look for the next one
