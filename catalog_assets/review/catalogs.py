"""The catalog at a git ref, or in the working tree, for comparing two of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from catalog_assets.catalog.discovery import Catalog, inspect_catalog
from catalog_assets.catalog.files import Limits
from catalog_assets.review import git


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the catalog, and which ref (and commit) it came from."""

    catalog: Catalog
    ref: str
    commit: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"ref": self.ref, "commit": self.commit}


@contextlib.contextmanager
def catalog_at(catalog_dir: Path, ref: str | None, limits: Limits | None = None) -> Iterator[Side]:
    """The catalog as ``ref`` holds it (read with git archive), or the working tree's if None."""
    if ref is None:
        catalog, _ = inspect_catalog(catalog_dir, limits=limits)
        yield Side(catalog, "working tree", None)
        return
    repository = git.toplevel(catalog_dir)
    relative = catalog_dir.resolve().relative_to(repository.resolve())
    commit = git.resolve(repository, ref)
    with git.tree_at(repository, commit, relative) as folder:
        catalog, _ = inspect_catalog(folder, limits=limits)
        yield Side(catalog, ref, commit)
