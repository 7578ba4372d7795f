"""Build the review of a preview: for each change, what a reviewer needs to judge it.

Reads products from the store (production's refs and the branch's) and executed notebooks from
disk; writes nothing but the report. No Dagster imports: the preview runner calls this after its
runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import nbformat

from catalog_assets.catalog.discovery import Catalog, Entry
from catalog_assets.catalog.terms import run_label
from catalog_assets.orchestration.staleness import nodes_of
from catalog_assets.review.changes import Change, Changes
from catalog_assets.review.datadiff import diff_frames, key_of
from catalog_assets.review.modeldiff import diff_models
from catalog_assets.review.plots import distribution_png
from catalog_assets.review.report import EntryReview, Review
from catalog_assets.settings import PROD_AREA
from catalog_assets.storage import formats
from catalog_assets.storage.refs import CheckResult, Ref
from catalog_assets.storage.store import CatalogStore

MAX_PLOTS = 6
log = logging.getLogger("catalog_assets")


def policy(*entries: Entry | None) -> formats.LoadPolicy:
    """What loading either side's product may construct: both sides' declarations."""
    trusted = tuple(t for e in entries if e for t in e.metadata.trusted_types)
    pickle = any(e is not None and e.metadata.format == "pickle" for e in entries)
    return formats.LoadPolicy(trusted, pickle)


def render_notebook(path: Path) -> tuple[str, str]:
    """An executed notebook as an HTML fragment (inputs and outputs, images inline) and its CSS."""
    from nbconvert import HTMLExporter
    from pygments.formatters import HtmlFormatter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(
        nbformat.read(path, as_version=4)
    )
    return body, HtmlFormatter(style="default").get_style_defs(".highlight")


def _metadata_diff(base: Entry | None, head: Entry | None) -> list[tuple[str, Any, Any]]:
    old = base.metadata.model_dump(mode="json") if base else {}
    new = head.metadata.model_dump(mode="json") if head else {}
    rows = [
        (k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    ]
    if base and head and base.group != head.group:
        rows.append(("group", base.group, head.group))
    return rows


def review_entry(
    change: Change,
    action: str,
    base: Catalog,
    head: Catalog,
    store: CatalogStore,
    executed_dir: Path,
    rechecked: list[CheckResult] | None = None,
    partition: str | None = None,
) -> tuple[EntryReview, str]:
    """One entry's review (of one tenant's partition), and the CSS its notebook needs."""
    base_entry, head_entry = base.entries.get(change.name), head.entries.get(change.name)
    production = store.read_ref(change.name, partition, area=PROD_AREA)
    branch = store.read_ref(change.name, partition) if change.runs == "materialize" else None
    item = EntryReview(
        change,
        action,
        production[0] if production else None,
        branch[0] if branch else None,
        metadata_diff=_metadata_diff(base_entry, head_entry),
        code_base=list(base_entry.notebook.code_cells) if base_entry else [],
        code_head=list(head_entry.notebook.code_cells) if head_entry else [],
        checks_production=list(production[0].checks) if production else [],
        checks_branch=rechecked
        if rechecked is not None
        else (list(branch[0].checks) if branch else []),
        partition=partition,
    )
    meta = head_entry.metadata if head_entry else None
    item.purpose = getattr(meta, "purpose", None)
    item.tenancy = getattr(meta, "tenancy", None)
    css = ""
    try:
        if item.branch is not None and item.branch.run_id:
            executed = (
                executed_dir / item.branch.run_id / f"{run_label(change.name, partition)}.ipynb"
            )
            if executed.exists():
                item.executed_html, css = render_notebook(executed)
        if item.branch is not None and item.production is not None:
            _compare(item, base_entry, head_entry, head, store, partition)
    except Exception as error:  # a broken comparison must not hide the rest of the report
        log.warning("review of %s: %s", change.name, error, exc_info=True)
        item.error = f"comparison failed: {type(error).__name__}: {error}"
    return item, css


def _compare(
    item: EntryReview,
    base_entry: Entry | None,
    head_entry: Entry | None,
    head: Catalog,
    store: CatalogStore,
    partition: str | None = None,
) -> None:
    production, branch = item.production, item.branch
    assert production is not None and branch is not None
    load_policy = policy(base_entry, head_entry)
    if branch.format == "parquet" and production.format == "parquet":
        old, new = store.load(production, load_policy), store.load(branch, load_policy)
        if hasattr(old, "to_frame") and not hasattr(old, "columns"):
            old, new = old.to_frame(), new.to_frame()
        diff = diff_frames(old, new, key_of(head_entry.metadata if head_entry else None))
        item.frame_diff = diff
        for name in diff.changed_columns[:MAX_PLOTS]:
            item.plots[name] = distribution_png(
                name,
                old[name] if name in old.columns else None,
                new[name] if name in new.columns else None,
            )
    elif branch.format == "skops" or production.format == "skops":
        old, new = store.load(production, load_policy), store.load(branch, load_policy)
        rows, rows_name = _scoring_rows(head_entry, head, store, partition)
        item.model_diff = diff_models(old, new, production.metrics, branch.metrics, rows, rows_name)


def _scoring_rows(
    entry: Entry | None, head: Catalog, store: CatalogStore, partition: str | None = None
) -> tuple[Any, str | None]:
    """A table both models can score: the branch's version of the model's first table input
    (of this partition, or a pooled model's first tenant)."""
    if entry is None:
        return None, None
    partitions = nodes_of(head)
    for name in entry.metadata.inputs:
        upstream = head.entries.get(name)
        if upstream is not None and upstream.metadata.kind == "dataset":
            which = partition if upstream.per_tenant else None
            if upstream.per_tenant and which is None:
                which = next(iter(partitions.get(name, [])), None)
            resolved = store.resolve(name, which)
            if resolved is not None and resolved.ref.format == "parquet":
                return store.load(resolved.ref, policy(upstream)), f"{name} ({resolved.area})"
    return None, None


def build_review(
    changes: Changes,
    actions: dict[str, str],
    base: Catalog,
    head: Catalog,
    store: CatalogStore,
    executed_dir: Path,
    meta: dict[str, str],
    rechecked: dict[str, list[CheckResult]],
) -> tuple[Review, str]:
    review = Review(
        meta["branch"],
        meta["base"],
        meta["base_commit"],
        meta["head_commit"],
        sources=changes.sources,
        unchanged=len(changes.unchanged),
    )
    css = ""
    partitions = nodes_of(head)
    for change in changes.entries:
        for partition in partitions.get(change.name, [None]) or [None]:
            title = change.name if partition is None else f"{change.name}[{partition}]"
            item, extra = review_entry(
                change,
                actions.get(title, "nothing runs"),
                base,
                head,
                store,
                executed_dir,
                rechecked.get(title),
                partition,
            )
            review.entries.append(item)
            css = css or extra
    return review, css


def checks_on(ref: Ref, entry: Entry, store: CatalogStore) -> list[CheckResult]:
    """The entry's declared checks evaluated on a stored version (e.g. production's)."""
    value = store.load(ref, policy(entry))
    return [
        CheckResult(**check.evaluate(value, ref.metrics).to_json())
        for check in entry.metadata.checks
    ]
