"""Dagster resources: the catalog's storage and where executed notebooks are kept."""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from catalog_assets.settings import Deployment, branch_slug
from catalog_assets.storage.store import CatalogStore


class CatalogStorage(dg.ConfigurableResource):
    """The storage root and the deployment whose area this code location writes."""

    storage_url: str
    deployment: str = "local"
    branch: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    #: Objects up to this size are one PUT (verifiable by their checksum); larger go in parts.
    s3_single_put_bytes: int | None = None
    s3_connect_timeout: float | None = None
    s3_read_timeout: float | None = None
    s3_max_attempts: int | None = None

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, s3: dict[str, Any] | None = None
    ) -> "CatalogStorage":
        s3 = s3 or {}
        return cls(
            storage_url=deployment.storage_url,
            deployment=deployment.kind,
            branch=deployment.branch,
            s3_endpoint_url=s3.get("endpoint_url"),
            s3_region=s3.get("region_name"),
            s3_single_put_bytes=s3.get("single_put_limit"),
            s3_connect_timeout=s3.get("connect_timeout"),
            s3_read_timeout=s3.get("read_timeout"),
            s3_max_attempts=s3.get("max_attempts"),
        )

    def kernel_environment(self) -> dict[str, str]:
        """Variables a notebook kernel needs to reach the same storage (passed through its
        environment, never written into the notebook)."""
        variables = {
            "CATALOG_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "CATALOG_S3_REGION": self.s3_region,
            "CATALOG_S3_CONNECT_TIMEOUT": self.s3_connect_timeout,
            "CATALOG_S3_READ_TIMEOUT": self.s3_read_timeout,
            "CATALOG_S3_MAX_ATTEMPTS": self.s3_max_attempts,
        }
        return {name: str(value) for name, value in variables.items() if value}

    def get_deployment(self) -> Deployment:
        slug = branch_slug(self.branch) if self.deployment == "branch" and self.branch else None
        return Deployment(self.deployment, self.storage_url, branch=self.branch, slug=slug)  # type: ignore[arg-type]

    def get_store(self) -> CatalogStore:
        options: dict[str, Any] = {
            "endpoint_url": self.s3_endpoint_url,
            "region_name": self.s3_region,
            "single_put_limit": self.s3_single_put_bytes,
            "connect_timeout": self.s3_connect_timeout,
            "read_timeout": self.s3_read_timeout,
            "max_attempts": self.s3_max_attempts,
        }
        return CatalogStore.open(
            self.get_deployment(), {k: v for k, v in options.items() if v is not None}
        )


class NotebookRunner(dg.ConfigurableResource):
    """Where executed notebooks are kept (local, under the code server's working directory, so the
    UI's "View notebook" can open them)."""

    executed_dir: str
    #: The project directory: its modules import in the kernel (trusted model classes, helpers).
    project_dir: str | None = None
    #: The review report of the preview these runs belong to, linked from branch materializations.
    report_path: str | None = None
    #: Stream output kept per cell, in executed notebooks and compute logs.
    max_output_lines: int = 1000
    max_output_mb: float = 1.0

    def output_cap(self) -> Any:
        from catalog_assets.orchestration.execution import OutputCap

        head = max(1, int(self.max_output_lines * 0.8))
        return OutputCap(
            head=head,
            tail=max(1, self.max_output_lines - head),
            bytes=int(self.max_output_mb * 1_000_000),
        )

    def executed_path(self, run_id: str, entry: str) -> Path:
        return Path(self.executed_dir) / run_id / f"{entry}.ipynb"

    def cache_dir(self) -> Path:
        """Local copies of remote source files (``catalog.path``), beside the executed notebooks."""
        return Path(self.executed_dir).parent / "cache"

    def kernel_path(self) -> dict[str, str]:
        """PYTHONPATH for the kernel: the project first, then what this process was given."""
        if not self.project_dir:
            return {}
        existing = os.environ.get("PYTHONPATH")
        return {"PYTHONPATH": os.pathsep.join(filter(None, [self.project_dir, existing]))}
