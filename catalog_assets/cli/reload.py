"""``catalog reload``: make a running local deployment load the catalog as it is now.

After a merge into the production branch, a local production deployment (``catalog dev`` with
``CATALOG_DEPLOYMENT=prod``) picks up the merged code by reloading its code location; its refresh
sensor then refreshes what changed. On Dagster+, the deployment reloads it on deploy.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from catalog_assets.errors import CatalogAssetsError

MUTATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { name loadStatus }
    ... on PythonError { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
  }
}
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reload", help="reload the code location of a running local Dagster UI (after a merge)"
    )
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the UI's address")
    parser.add_argument("--location", default="catalog_assets", help="the code location's name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    body = json.dumps({"query": MUTATION, "variables": {"name": args.location}}).encode()
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError) as error:
        raise CatalogAssetsError(
            f"no Dagster UI answers at {args.url} ({error}); start it with `catalog dev`"
        ) from None
    result = (answer.get("data") or {}).get("reloadRepositoryLocation") or {}
    if result.get("__typename") != "WorkspaceLocationEntry":
        message = result.get("message") or answer.get("errors") or result
        raise CatalogAssetsError(f"reloading {args.location} failed: {message}")
    print(f"reloaded {args.location} at {args.url} ({result.get('loadStatus', 'loaded').lower()})")
    return 0
