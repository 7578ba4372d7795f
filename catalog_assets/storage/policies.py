"""IAM policies of the deployments' credentials, rendered for one storage root.

The documents live in ``deploy/iam/`` (``production``, ``branch``, ``ingestion``) with the
placeholders ``{bucket}``, ``{prefix}`` and, for a branch, ``{branch_area}``: the area name ends
in a hash of the exact branch name, so operators render a branch's policy instead of writing it.
Only credentials can stop a notebook: a kernel may call boto3 itself, past every check of ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from catalog_assets.errors import CatalogAssetsError
from catalog_assets.settings import branch_slug

ROLES = ("production", "branch", "ingestion")


def render(template_dir: Path, role: str, storage_url: str, branch: str | None = None) -> Any:
    """The policy document of ``role`` for the storage root ``storage_url`` (an ``s3://`` URL).

    Raises:
        CatalogAssetsError: for an unknown role, a root that is not on S3, a branch role without
            a branch, or a missing template.
    """
    if role not in ROLES:
        raise CatalogAssetsError(f"no policy for {role!r}; the roles are {', '.join(ROLES)}")
    if (role == "branch") != (branch is not None):
        raise CatalogAssetsError(
            "--branch names the branch of a branch policy, and only of a branch policy"
        )
    parsed = urlparse(storage_url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise CatalogAssetsError(
            f"CATALOG_STORAGE_URL={storage_url!r}: IAM policies are for storage on S3 "
            "(s3://bucket/prefix)"
        )
    template = template_dir / f"{role}.json"
    if not template.is_file():
        raise CatalogAssetsError(f"{template}: the policy template is missing")
    prefix = parsed.path.strip("/")
    values = {
        "{bucket}": parsed.netloc,
        "{prefix}": f"{prefix}/" if prefix else "",
        "{branch_area}": f"branches/{branch_slug(branch)}" if branch is not None else "",
    }

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for placeholder, replacement in values.items():
                value = value.replace(placeholder, replacement)
            return value
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    return fill(json.loads(template.read_text(encoding="utf-8")))
