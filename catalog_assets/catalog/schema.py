"""The catalog's files as data: an entry's metadata file and ``sources.yaml`` (pydantic models).

Dagster's own rules for owners, tags and names are mirrored here so ``catalog validate`` reports
them per file and field instead of Dagster raising on the first one when definitions are built
(tests keep them in step with Dagster).
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from catalog_assets.catalog.checks import Check, Strict
from catalog_assets.catalog.cron import cron_problem
from catalog_assets.catalog.terms import PersonalData, Tenancy, Terms

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")
_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GROUP = re.compile(r"^[A-Za-z0-9_]+$")


def is_valid_name(name: str) -> bool:
    """Entry, input and source names are Python identifiers (they become notebook variables)."""
    return bool(_NAME.match(name)) and not keyword.iskeyword(name)


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


def _identifier(name: str) -> str:
    if not is_valid_name(name):
        raise ValueError(
            f"{name!r} is not a Python identifier (letters, digits, '_', not starting with a "
            "digit, not a keyword); it becomes a notebook variable of the same name"
        )
    return name


Identifier = Annotated[str, AfterValidator(_identifier)]
Scalar = str | bool | int | float | None
ParamValue = Scalar | list[Scalar]
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
#: Libraries whose classes a model file may always hold; declaring them trusted is redundant.
TRUSTED_LIBRARIES = ("sklearn", "numpy", "scipy")
FORMATS = ("auto", "parquet", "skops", "json", "npy", "png", "pickle")

# Which fingerprint each metadata field feeds (catalog/fingerprint.py). `code` fields change the
# product, so they change the Dagster code version; `checks` and `metadata` fields do not.
CODE = {"fingerprint": "code"}
CHECKS = {"fingerprint": "checks"}
METADATA = {"fingerprint": "metadata"}


class EntryMetadata(Strict):
    """The metadata file ``<name>.yaml`` of a catalog entry."""

    description: str = Field(min_length=1, json_schema_extra=METADATA)
    owner: str = Field(json_schema_extra=METADATA)
    kind: Literal["dataset", "model"] = Field("dataset", json_schema_extra=CODE)
    inputs: list[str] = Field(default_factory=list, json_schema_extra=CODE)
    schedule: str | None = Field(None, json_schema_extra=METADATA)
    checks: list[Check] = Field(default_factory=list, json_schema_extra=CHECKS)
    tags: dict[str, str] = Field(default_factory=dict, json_schema_extra=METADATA)
    #: Storage format of the product; ``auto`` picks it from the product's type.
    format: Literal["auto", "parquet", "skops", "json", "npy", "png", "pickle"] = Field(
        "auto", json_schema_extra=CODE
    )
    #: Classes of this repository a model may hold besides scikit-learn, NumPy and SciPy ones.
    trusted_types: list[str] = Field(default_factory=list, json_schema_extra=CODE)
    #: Columns identifying a row of a dataset, for comparing versions row by row in reviews
    #: (default: the columns of its first ``unique`` check).
    key: list[str] | None = Field(None, min_length=1, json_schema_extra=METADATA)
    #: Values a run injects after the ``parameters`` cell, as papermill does.
    params: dict[str, ParamValue] = Field(default_factory=dict, json_schema_extra=CODE)
    #: What the product is for; each source it reads must allow it (catalog.terms).
    purpose: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$", json_schema_extra=CODE)
    #: ``per_tenant`` (a partition per tenant) or ``pooled``; required when it reads tenant data.
    tenancy: Tenancy | None = Field(None, json_schema_extra=CODE)
    #: The personal columns it needs, and why; any other is dropped on load.
    personal_data: PersonalData | None = Field(None, json_schema_extra=CODE)

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

    @field_validator("trusted_types")
    @classmethod
    def _trusted_types(cls, value: list[str]) -> list[str]:
        for name in value:
            root = name.split(".")[0]
            if not _DOTTED.match(name):
                raise ValueError(f"{name!r} is not a dotted class name such as 'mylib.models.Clip'")
            if root in TRUSTED_LIBRARIES:
                raise ValueError(f"{name!r}: {root} classes are always trusted; remove it")
            if root in sys.stdlib_module_names or root == "builtins":
                raise ValueError(
                    f"{name!r} is in the Python standard library; only classes of this "
                    "repository can be declared trusted"
                )
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: object) -> object:
        """Names and values checked before typing, so a nested value gets one plain sentence
        instead of one line per member of the value union."""
        if not isinstance(value, dict):
            return value
        found = []
        for name, given in value.items():
            if not isinstance(name, str) or not is_valid_name(name):
                found.append(
                    f"{name!r} is not a Python identifier (each parameter becomes a notebook "
                    "variable of the same name)"
                )
            members = given if isinstance(given, list) else [given]
            if not all(m is None or isinstance(m, str | bool | int | float) for m in members):
                found.append(
                    f"{name!r} is a {type(given).__name__}; a value is a string, number, "
                    "true/false, null or a list of those (use several parameters instead)"
                )
        if found:
            raise ValueError("; ".join(found))
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
        overlap = sorted(set(self.params) & set(self.inputs))
        if overlap:
            raise ValueError(
                f"params: {', '.join(overlap)} is also an input; a name is one or the other"
            )
        if self.kind == "model":
            table_checks = [c.type for c in self.checks if c.on_table]
            if table_checks:
                raise ValueError(
                    f"checks: {', '.join(table_checks)} check tables, but this entry is a model; "
                    "models take metric thresholds (metric: 'roc_auc >= 0.7')"
                )
        return self


class ReadOptions(Strict):
    """How to read a source file: CSV options (and ``sheet`` for Excel), in pandas' terms."""

    #: Field separator: ``,`` ``;`` ``\t`` ``|``, or ``whitespace`` for runs of spaces.
    sep: str | None = Field(None, min_length=1)
    encoding: str | None = None
    #: Row number of the header, or ``none`` when the file has no header row.
    header: int | Literal["none"] | None = None
    names: list[str] | None = Field(None, min_length=1)
    dtypes: dict[str, str] | None = None
    dates: list[str] | None = None
    decimal: str | None = Field(None, min_length=1, max_length=1)
    thousands: str | None = Field(None, min_length=1, max_length=1)
    skip_rows: int | None = Field(None, ge=0)
    #: Excel: the sheet's name or index.
    sheet: str | int | None = None

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        import codecs

        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252)"
                ) from None
        return value

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            repeated = sorted({n for n in value if value.count(n) > 1})
            if repeated:
                raise ValueError(f"repeated column names: {', '.join(repeated)}")
        return value


SOURCE_FORMATS = ("parquet", "csv", "jsonl", "excel", "file")
_OPTIONS_OF = {
    "csv": {
        "sep",
        "encoding",
        "header",
        "names",
        "dtypes",
        "dates",
        "decimal",
        "thousands",
        "skip_rows",
    },
    "excel": {"header", "names", "dtypes", "dates", "skip_rows", "sheet"},
    "jsonl": {"encoding", "dtypes", "dates"},
    "parquet": set(),
    "file": set(),
}


class SourceSpec(Strict):
    """Raw provider data, declared in ``sources.yaml``; no deployment ever writes it."""

    name: Identifier
    description: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    location: str = Field(min_length=1)
    #: ``file`` is read by no one: notebooks get a local path with ``catalog.path(name)``.
    format: Literal["parquet", "csv", "jsonl", "excel", "file"] = "parquet"
    read: ReadOptions | None = None
    owner: str | None = None
    #: How often production looks for a new version of the file (the refresh sensor observes it).
    observe_every_minutes: int = Field(15, ge=1, le=7 * 24 * 60)
    #: What the provider allows done with the data (catalog.terms).
    terms: Terms | None = None

    @model_validator(mode="after")
    def _options_fit_format(self) -> SourceSpec:
        if self.read is not None:
            given = set(self.read.model_dump(exclude_none=True))
            misplaced = sorted(given - _OPTIONS_OF[self.format])
            if misplaced:
                raise ValueError(
                    f"read: {', '.join(misplaced)} do not apply to format {self.format} "
                    f"(it takes: {', '.join(sorted(_OPTIONS_OF[self.format])) or 'none'})"
                )
        return self

    @field_validator("location")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if value.startswith(("/", "\\")) or ".." in parts or "\\" in value:
            raise ValueError(
                f"{value!r} must be a relative path inside the sources area (no '..', not absolute)"
            )
        return value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return check_owner(value) if value is not None else None
