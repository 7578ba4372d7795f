"""The notebook API outside a run: in Jupyter, on a scientist's machine.

``load`` reads what the current deployment would hand a run (its own ref, else production's for a
branch), verified against the ref like any load. ``dry_run`` converts a product exactly as a run
would, evaluates the entry's declared checks on it and prints what a run would store, so problems
show before anything is committed. Nothing here writes to storage.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path
from typing import Any

from catalog_assets.catalog.discovery import Catalog, Entry, inspect_catalog
from catalog_assets.catalog.problems import CatalogError
from catalog_assets.errors import CatalogAssetsError, NotebookAPIError
from catalog_assets.settings import Settings
from catalog_assets.storage import formats
from catalog_assets.storage.backend import sha256_file
from catalog_assets.storage.store import CatalogStore


def _catalog(settings: Settings) -> Catalog:
    catalog, problems = inspect_catalog(settings.catalog_dir)
    sources_problems = [p for p in problems if p.path.name == "sources.yaml"]
    if sources_problems:
        raise CatalogError(sources_problems)
    return catalog


def load(name: str) -> Any:
    settings = Settings.from_env(os.environ)
    catalog = _catalog(settings)
    store = CatalogStore.open(settings.deployment, settings.s3)
    try:
        if name in catalog.sources:
            source = catalog.sources[name]
            return store.read_source(store.source_key(source.location), None, source.format)
        if name not in catalog.entries:
            known = [*catalog.entries, *catalog.sources]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotebookAPIError(
                f"{name!r} is neither a catalog entry nor a source in {settings.catalog_dir}{hint}"
            )
        resolved = store.resolve(name)
        if resolved is None:
            deployment = settings.deployment
            raise NotebookAPIError(
                f"no stored product {name!r} for the {deployment.label} deployment under "
                f"{deployment.storage_url}; materialize it once (e.g. `dagster asset materialize "
                f"-m catalog_assets.definitions --select {name}`)"
            )
        return store.load(resolved.ref, policy_of(catalog.entries[name]))
    except NotebookAPIError:
        raise
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.load({name!r}): {error}") from None


def policy_of(entry: Entry) -> formats.LoadPolicy:
    """What loading an entry's product may construct, from the entry's own declaration."""
    meta = entry.metadata
    return formats.LoadPolicy(tuple(meta.trusted_types), meta.format == "pickle")


def _current_entry(catalog: Catalog) -> Entry | None:
    """The entry of the notebook this kernel runs, when the front end says which it is."""
    candidates = [os.environ.get("JPY_SESSION_NAME", "")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            candidates.append(str(shell.user_ns.get("__vsc_ipynb_file__", "")))
    except ImportError:
        pass
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if not path.is_absolute():
            path = Path.cwd() / path.name
        for entry in catalog.entries.values():
            if entry.notebook_path.resolve() == path.resolve():
                return entry
    return None


def dry_run(value: Any, metrics: dict[str, float]) -> Any:
    """What a run would store for ``value``, printed; refuses what a run would refuse."""
    settings = Settings.from_env(os.environ)
    entry = _current_entry(_catalog(settings))
    meta = entry.metadata if entry else None
    declared = meta.format if meta else "auto"
    trusted = tuple(meta.trusted_types) if meta else ()
    where = f" ({entry.metadata_path})" if entry else ""
    try:
        fmt = formats.choose(value, declared)
        with tempfile.TemporaryDirectory(prefix="catalog-dry-run-") as folder:
            path = Path(folder) / f"product.{fmt.extension}"
            formats.write(value, fmt, path, formats.LoadPolicy(trusted, fmt.name == "pickle"))
            size, sha256 = path.stat().st_size, sha256_file(path)
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.output: {error}{where}") from None
    name = entry.name if entry else "this notebook's product"
    print(  # noqa: T201 - printing is how the API talks in Jupyter
        f"catalog.output (dry run, nothing stored): {name} would be stored as {fmt.name}, "
        f"{_size(size)}, sha256 {sha256[:12]}"
    )
    if entry is None:
        print(  # noqa: T201
            "  (checks not evaluated: open the notebook from its catalog folder in JupyterLab to "
            "evaluate the entry's declared checks here)"
        )
    for check in meta.checks if meta else []:
        outcome = check.evaluate(value, metrics)
        mark = "passed" if outcome.passed else "FAILED"
        print(f"  check {outcome.name}: {mark}: {outcome.message}")  # noqa: T201
    return value


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
