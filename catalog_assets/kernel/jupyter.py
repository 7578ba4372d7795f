"""The notebook API outside a run: in Jupyter, on a scientist's machine.

``load`` reads what the current deployment would hand a run (its own ref, else production's for a
branch), verified against the ref like any load. ``dry_run`` converts a product exactly as a run
would, evaluates the entry's declared checks on it and prints what a run would store, so problems
show before anything is committed. Nothing here writes to storage.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from catalog_assets.catalog.discovery import Catalog, Entry, inspect_catalog
from catalog_assets.catalog.problems import CatalogError, did_you_mean
from catalog_assets.catalog.terms import Slot, slots
from catalog_assets.errors import CatalogAssetsError, NotebookAPIError
from catalog_assets.instance import materialize_command
from catalog_assets.kernel import usage
from catalog_assets.kernel.protocol import UsageSpec
from catalog_assets.settings import Settings
from catalog_assets.storage import formats
from catalog_assets.storage.backend import sha256_file
from catalog_assets.storage.store import CatalogStore


def _catalog(settings: Settings) -> Catalog:
    catalog, problems = inspect_catalog(settings.catalog_dir, limits=settings.limits)
    sources_problems = [p for p in problems if p.path.name == "sources.yaml"]
    if sources_problems:
        raise CatalogError(sources_problems)
    return catalog


def _check_declared(catalog: Catalog, name: str, call: str) -> None:
    """In the notebook of a known entry, an undeclared input fails here as it would in a run."""
    entry = _current_entry(catalog)
    if entry is not None and name not in entry.metadata.inputs:
        declared = ", ".join(sorted(entry.metadata.inputs)) or "none"
        raise NotebookAPIError(
            f"catalog.{call}({name!r}): {name!r} is not an input of {entry.name} (declared: "
            f"{declared}); add it to 'inputs' in {entry.metadata_path}"
        )


def _unknown(name: str, catalog: Catalog, settings: Settings) -> NotebookAPIError:
    return NotebookAPIError(
        f"{name!r} is neither a catalog entry nor a source in {settings.catalog_dir}"
        + did_you_mean(name, [*catalog.entries, *catalog.broken, *catalog.sources])
    )


def tenant() -> str | None:
    """The tenant a per-tenant entry's notebook computes in Jupyter: ``CATALOG_TENANT``."""
    return os.environ.get("CATALOG_TENANT") or None


def _tenant_for(entry: Entry | None, catalog: Catalog) -> str | None:
    """The tenant this notebook computes; refuses a per-tenant entry without one, or one whose
    terms forbid it, as a run would."""
    chosen = tenant()
    if entry is None or not entry.per_tenant or entry.governance is None:
        return chosen
    partitions = entry.governance.partitions()
    if chosen is None:
        raise NotebookAPIError(
            f"{entry.name} is computed per tenant: set CATALOG_TENANT to one of "
            f"{', '.join(partitions) or 'none'} (the tenant whose rows this notebook sees)"
        )
    refusal = entry.governance.refusal(chosen)
    if refusal:
        raise NotebookAPIError(f"CATALOG_TENANT={chosen}: {refusal}")
    return chosen


def _usage(entry: Entry | None, name: str, chosen: str | None) -> UsageSpec:
    """What the terms let this notebook see of ``name``: its entry's rules; a notebook of no
    entry sees no personal column, and only ``CATALOG_TENANT``'s rows when it is set."""
    if entry is not None and entry.governance is not None:
        rule = entry.governance.usage(name, chosen)
        return UsageSpec(tenant_column=rule.tenant_column, tenants=rule.tenants, drop=rule.drop)
    return UsageSpec()


def load(name: str) -> Any:
    settings = Settings.from_env(os.environ)
    catalog = _catalog(settings)
    _check_declared(catalog, name, "load")
    entry = _current_entry(catalog)
    chosen = _tenant_for(entry, catalog)
    store = CatalogStore.open(settings.deployment, settings.s3)
    try:
        if name in catalog.sources:
            source = catalog.sources[name]
            options = source.read.model_dump(exclude_none=True) if source.read else {}
            key = store.source_key(source.location)
            value = store.read_source(key, None, source.format, options, name=name)
            if entry is None:
                value = _unknown_notebook(value, source, chosen)
            return usage.restrict(value, _usage(entry, name, chosen), name, source=True)
        if name not in catalog.entries:
            raise _unknown(name, catalog, settings)
        upstream = {n: e.governance for n, e in catalog.entries.items()}
        governance = entry.governance if entry else None
        wanted = [s for s in slots(governance, [name], upstream, chosen) if s.name == name]
        if entry is None and catalog.entries[name].per_tenant:
            wanted = (
                [Slot(name, name, chosen)]
                if chosen
                else [
                    Slot(f"{name}[{t}]", name, t)
                    for t in catalog.entries[name].governance.partitions()
                ]
            )
        parts = []
        for slot in wanted:
            resolved = store.resolve(name, slot.partition)
            if resolved is None:
                deployment = settings.deployment
                which = f" for tenant {slot.partition}" if slot.partition else ""
                raise NotebookAPIError(
                    f"no stored product {name!r}{which} for the {deployment.label} deployment "
                    f"under {deployment.storage_url}; materialize it once "
                    f"(`{materialize_command(name, settings)}`)"
                )
            parts.append(
                (slot.partition, store.load(resolved.ref, policy_of(catalog.entries[name])))
            )
        value = (
            parts[0][1]
            if len(wanted) == 1 and wanted[0].label == name
            else usage.stack(parts, name)
        )
        return usage.restrict(value, _usage(entry, name, chosen), name, source=False)
    except NotebookAPIError:
        raise
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.load({name!r}): {error}") from None


def _unknown_notebook(value: Any, source: Any, chosen: str | None) -> Any:
    """A notebook of no entry (a scratch notebook) sees no personal column, and only the rows of
    ``CATALOG_TENANT`` when it is set."""
    if source.terms is None:
        return value
    return usage.restrict(value, _scratch_usage(source.terms, chosen), source.name, source=True)


def _scratch_usage(terms: Any, chosen: str | None) -> UsageSpec:
    return UsageSpec(
        tenant_column=terms.tenant_column if chosen else None,
        tenants=(chosen,) if chosen else None,
        drop=tuple(terms.personal_columns),
    )


def path(name: str) -> Path:
    settings = Settings.from_env(os.environ)
    catalog = _catalog(settings)
    _check_declared(catalog, name, "path")
    if name not in catalog.sources:
        if name in catalog.entries:
            raise NotebookAPIError(
                f"catalog.path({name!r}): {name!r} is a catalog entry, not a source file; use "
                f"catalog.load({name!r})"
            )
        raise _unknown(name, catalog, settings)
    entry = _current_entry(catalog)
    chosen = _tenant_for(entry, catalog)
    terms = catalog.sources[name].terms
    if entry is None and terms is not None:
        usage.refuse_path(_scratch_usage(terms, chosen), name)
    else:
        usage.refuse_path(_usage(entry, name, chosen), name)
    store = CatalogStore.open(settings.deployment, settings.s3)
    key = store.source_key(catalog.sources[name].location)
    try:
        return store.source_path(key, None, settings.home / ".catalog" / "cache")
    except CatalogAssetsError as error:
        raise NotebookAPIError(f"catalog.path({name!r}): {error}") from None


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
    if entry is not None and entry.governance is not None:
        usage.refuse_output(value, entry.governance.forbidden_columns(), entry.name)
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
