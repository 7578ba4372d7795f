"""Refs: the small record per entry and area that names a product's immutable object.

A ref is the commit point of a materialization. It names the content-addressed object and carries
the product's provenance: its SHA-256 (the content version, which is also the Dagster data
version), format and size, the code, metadata and checks versions of the entry that produced it,
the exact version of every input it read and the area each came from, and the run, deployment and
time. Every ref written is also kept as a history record, so versions can be listed and rolled back.
No Dagster imports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputVersion(_Record):
    """The exact version of one input a product was computed from."""

    kind: Literal["entry", "source"]
    #: Where it was read: an area (``prod``, ``branches/…``, ``local``) or ``sources``.
    area: str
    #: The object (entries) or source file (sources) that was read.
    key: str
    #: Entries: the object's SHA-256. Sources: the S3 ETag, or locally size-mtime-inode.
    version: str
    partition: str | None = None


class CheckResult(_Record):
    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class Origin(_Record):
    """Where a promoted version was computed."""

    area: str
    branch: str | None = None
    run_id: str | None = None


class Ref(_Record):
    schema_version: Literal[1] = SCHEMA
    entry: str
    partition: str | None = None
    object: str
    sha256: str
    format: str
    size: int
    code_version: str | None = None
    metadata_version: str | None = None
    checks_version: str | None = None
    inputs: dict[str, InputVersion] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    #: Facts about the value: type, row count and columns of a frame, shape of an array.
    facts: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    run_id: str | None = None
    deployment: str
    branch: str | None = None
    #: The area whose ref this record was written to.
    area: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    event: Literal["materialized", "promoted", "rolled_back"] = "materialized"
    promoted_from: Origin | None = None
    rolled_back_from: str | None = None

    @property
    def data_version(self) -> str:
        """The content version: Dagster's data version of this materialization."""
        return self.sha256

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=1).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Ref:
        return cls.model_validate_json(data)
