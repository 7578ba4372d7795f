"""``catalog policy``: the IAM policy of a deployment's credentials, for this storage root."""

from __future__ import annotations

import argparse
import json

from catalog_assets.errors import CatalogAssetsError
from catalog_assets.settings import Settings, project_checkout
from catalog_assets.storage.policies import ROLES, render


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "policy",
        help="print the IAM policy of production, a branch or source ingestion for "
        "CATALOG_STORAGE_URL (from deploy/iam/)",
    )
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--branch", help="the git branch, for a branch policy")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    checkout = project_checkout() or settings.home
    if not (checkout / "deploy" / "iam").is_dir():
        raise CatalogAssetsError(f"{checkout}/deploy/iam: no policy templates here")
    policy = render(
        checkout / "deploy" / "iam", args.role, settings.deployment.storage_url, args.branch
    )
    print(json.dumps(policy, indent=2))
    return 0
