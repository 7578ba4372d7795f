"""The step<->kernel contract: what a run step sends the notebook kernel and what it reports back.

Both sides import these types; nothing else crosses the process boundary. The step writes a
``StepSpec`` to a file the injected cell names, and the kernel's teardown cell writes a
``KernelReport`` to the file the spec names. ``PROTOCOL`` versions the contract: a kernel and a step
that disagree fail validation with a clear message instead of misreading each other.

The spec holds no secrets (credentials reach the kernel through its environment) and the step
trusts nothing in the report that could redirect a write: the product is read from the staging file
the step chose, and its SHA-256 is computed by the step. No Dagster imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog_assets.catalog.checks import Check

PROTOCOL = 1


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentSpec(_Message):
    kind: Literal["local", "branch", "prod"]
    storage_url: str
    branch: str | None = None
    slug: str | None = None


class UsageSpec(_Message):
    """What the terms let the notebook see of one input (``catalog.terms.InputUsage``)."""

    #: Keep only rows whose ``tenant_column`` is one of ``tenants``.
    tenant_column: str | None = None
    tenants: tuple[str, ...] | None = None
    #: Columns removed before the notebook sees the value.
    drop: tuple[str, ...] = ()


class PartSpec(_Message):
    """One tenant's partition of a per-tenant upstream, read by a pooled entry."""

    tenant: str
    area: str
    key: str
    version: str
    format: str


class InputSpec(_Message):
    """One resolved input: exactly which stored bytes to read, and how."""

    kind: Literal["entry", "source"]
    #: The area it was resolved in (``prod``, ``branches/…``, ``local``) or ``sources``.
    area: str
    key: str
    #: Entries: the object's SHA-256, verified on read. Sources: the version read must still be.
    version: str
    format: str
    trusted_types: tuple[str, ...] = ()
    allow_pickle: bool = False
    read_options: dict[str, Any] = Field(default_factory=dict)
    #: A pooled entry reading a per-tenant upstream: its allowed tenants' partitions, stacked.
    parts: tuple[PartSpec, ...] = ()
    usage: UsageSpec = Field(default_factory=UsageSpec)


class ProductSpec(_Message):
    """Where and how the kernel writes the product."""

    staging_path: str
    declared_format: str = "auto"
    trusted_types: tuple[str, ...] = ()
    #: Columns the terms keep out of the product, each with why.
    forbidden_columns: dict[str, str] = Field(default_factory=dict)


class StepSpec(_Message):
    """What the step resolved for one notebook run."""

    protocol: Literal[1] = PROTOCOL
    entry: str
    run_id: str
    #: The tenant of this run's partition (per-tenant entries).
    tenant: str | None = None
    metadata_path: str
    deployment: DeploymentSpec
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    product: ProductSpec
    checks: list[Check] = Field(default_factory=list)
    report_path: str
    #: Where ``catalog.path`` keeps local copies of remote source files.
    cache_dir: str

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: Path | str) -> StepSpec:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


class ProductReport(_Message):
    """The product the kernel wrote to the staging path."""

    format: str
    facts: dict[str, Any] = Field(default_factory=dict)


class CheckReport(_Message):
    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class KernelFacts(_Message):
    dagster_imported: bool
    modules: int


class KernelReport(_Message):
    """What the kernel reports back when the notebook ends (the teardown cell writes it)."""

    protocol: Literal[1] = PROTOCOL
    product: ProductReport | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    checks: list[CheckReport] = Field(default_factory=list)
    kernel: KernelFacts

    @classmethod
    def read(cls, path: Path | str) -> KernelReport:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
