"""The step<->kernel contract: what a run step sends the notebook kernel and what it reports back.

Both sides import these types; nothing else crosses the process boundary. The step writes a
``StepSpec`` the injected cell reads, and the kernel's teardown cell writes a ``KernelReport`` the
step reads. ``PROTOCOL`` versions the contract: a kernel and a step that disagree fail validation
with a clear message instead of misreading each other. No Dagster imports.
"""

from __future__ import annotations

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


class InputSpec(_Message):
    """One resolved input: the stored object to read and the area it was found in."""

    key: str
    format: str
    area: str


class StepSpec(_Message):
    """What the step resolved for one notebook run."""

    protocol: Literal[1] = PROTOCOL
    entry: str
    run_id: str
    metadata_path: str
    deployment: DeploymentSpec
    s3: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)
    manifest: str


class ProductReport(_Message):
    """The product the kernel staged."""

    staging_key: str
    format: str
    uri: str
    size: int
    row_count: int | None = None
    columns: list[tuple[str, str]] | None = None
    type: str | None = None


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
