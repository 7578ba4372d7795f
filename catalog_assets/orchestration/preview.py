"""The Dagster side of ``catalog preview``: run what a branch changes, then write the review.

``python -m catalog_assets.orchestration.preview`` runs inside the branch deployment that
``catalog preview`` prepared: the merged worktree first on ``PYTHONPATH``, ``CATALOG_BRANCH`` set,
the branch's own Dagster instance. It materializes exactly the new and changed entries and their
downstream (plus upstream entries production has never materialized), reuses what is still valid
(same code version, same input versions), re-runs the checks of entries whose checks alone changed
on production's value, runs nothing for metadata-only changes, and writes the report. Progress goes
to stdout, one line per step; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from catalog_assets.catalog.discovery import Catalog, inspect_catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.catalog.terms import Slot
from catalog_assets.orchestration.automation import sync_tenants
from catalog_assets.orchestration.catchup import first_failure
from catalog_assets.orchestration.staleness import Node, input_slots, label, nodes_of
from catalog_assets.review import git
from catalog_assets.review.build import build_review, checks_on
from catalog_assets.review.changes import classify
from catalog_assets.review.report import render_html, render_markdown
from catalog_assets.settings import PROD_AREA, Settings
from catalog_assets.storage.refs import CheckResult
from catalog_assets.storage.store import CatalogStore

PREVIEW_TAG = "catalog/preview"
#: The run's event log goes to stderr, which ``catalog preview`` keeps as ``preview.log``.
LOGGED = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - progress for the person running the preview


@dataclass
class Plan:
    """Nodes: an entry, or one tenant's partition of a per-tenant entry (``name[tenant]``)."""

    run: list[Node] = field(default_factory=list)
    reused: list[Node] = field(default_factory=list)
    checks: list[Node] = field(default_factory=list)
    #: Upstream nodes production has no version of, run so the changed ones can be.
    pulled_in: list[Node] = field(default_factory=list)


def _current_version(store: CatalogStore, catalog: Catalog, slot: Slot) -> str | None:
    if slot.name in catalog.sources:
        info = store.source_info(catalog.sources[slot.name].location)
        return info.version if info else None
    resolved = store.resolve(slot.name, slot.partition)
    return resolved.ref.sha256 if resolved else None


def reusable(store: CatalogStore, catalog: Catalog, node: Node, pending: set[Node]) -> bool:
    """The branch already holds a version of ``node`` computed by this code from the inputs as
    they are now."""
    name, partition = node
    found = store.read_ref(name, partition)
    if found is None:
        return False
    ref = found[0]
    if ref.code_version != versions(catalog.entries[name]).code:
        return False
    for slot in input_slots(catalog, name, partition):
        recorded = ref.inputs.get(slot.label)
        if (slot.name, slot.partition) in pending or recorded is None:
            return False
        if recorded.version != _current_version(store, catalog, slot):
            return False
    return True


def plan(store: CatalogStore, head: Catalog, to_run: list[str], checks: list[str]) -> Plan:
    partitions = nodes_of(head)
    result = Plan(checks=[(n, p) for n in checks for p in partitions.get(n, [None])])
    wanted = {(n, p) for n in to_run for p in partitions.get(n, [None])}
    frontier = list(wanted)
    while frontier:  # upstream production has never materialized must run in the branch too
        name, partition = frontier.pop()
        for slot in input_slots(head, name, partition):
            upstream = (slot.name, slot.partition)
            if slot.name not in head.entries or upstream in wanted:
                continue
            if store.resolve(slot.name, slot.partition) is None:
                wanted.add(upstream)
                result.pulled_in.append(upstream)
                frontier.append(upstream)
    pending: set[Node] = set()
    for name in head.upstream_order():
        for partition in partitions[name]:
            node = (name, partition)
            if node not in wanted:
                continue
            if reusable(store, head, node, pending):
                result.reused.append(node)
            else:
                result.run.append(node)
                pending.add(node)
    return result


def _labels(nodes: list[Node]) -> list[str]:
    return [label(node) for node in nodes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog_assets.orchestration.preview")
    for name in ("repository", "base", "base-commit", "branch", "head-commit", "catalog-relative"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--report-dir", required=True, type=Path)
    args = parser.parse_args(argv)

    from catalog_assets.definitions import defs

    settings = Settings.from_env()
    definitions = defs()
    store: CatalogStore = definitions.resources["catalog_storage"].get_store()
    head, _ = inspect_catalog(settings.catalog_dir, limits=settings.limits)
    with git.tree_at(
        Path(args.repository), args.base_commit, Path(args.catalog_relative)
    ) as folder:
        base, _ = inspect_catalog(folder, limits=settings.limits)
        changes = classify(base, head)

    work = plan(store, head, changes.runs("materialize"), changes.runs("checks"))
    say(
        f"preview: {len(work.run)} to materialize, {len(work.reused)} reused, "
        f"{len(work.checks)} to re-check on production's value"
        + (
            f"; also running {', '.join(_labels(work.pulled_in))} (production has no version)"
            if work.pulled_in
            else ""
        )
    )
    instance = dg.DagsterInstance.get()
    sync_tenants(instance, head)
    job = definitions.resolve_implicit_global_asset_job_def()
    actions: dict[str, str] = {label(n): "reused (same code, same inputs)" for n in work.reused}
    failed: list[Node] = []
    for number, node in enumerate(work.run, 1):
        name, partition = node
        title = label(node)
        slots = input_slots(head, name, partition)
        blocked = [s.label for s in slots if (s.name, s.partition) in failed]
        if blocked:
            actions[title] = f"not run: upstream {', '.join(blocked)} failed"
            failed.append(node)
            say(f"  [{number}/{len(work.run)}] {title}: skipped, {actions[title]}")
            continue
        say(f"  [{number}/{len(work.run)}] {title}: running")
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(name)],
            partition_key=partition,
            raise_on_error=False,
            run_config=LOGGED,
            tags={PREVIEW_TAG: args.head_commit[:12]},
        )
        seconds = time.monotonic() - started
        if result.success:
            actions[title] = f"materialized in run {result.run_id[:8]} ({seconds:.1f} s)"
            say(f"  [{number}/{len(work.run)}] {title}: materialized in {seconds:.1f} s")
        else:
            failure = first_failure(result)
            actions[title] = f"FAILED in run {result.run_id[:8]}: {failure}"
            failed.append(node)
            say(f"  [{number}/{len(work.run)}] {title}: FAILED: {failure}")

    rechecked: dict[str, list[CheckResult]] = {}
    for name, partition in work.checks:
        title = label((name, partition))
        production = store.read_ref(name, partition, area=PROD_AREA)
        if production is None:
            actions[title] = "checks not re-run: production has no version"
            continue
        results = checks_on(production[0], head.entries[name], store)
        rechecked[title] = results
        for outcome in results:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey(name),
                    check_name=outcome.name,
                    passed=outcome.passed,
                    partition=partition,
                    description=f"{outcome.message} (production's version {production[0].short})",
                    metadata=outcome.metadata,
                )
            )
        passed = sum(r.passed for r in results)
        actions[title] = f"checks re-run on production's version: {passed}/{len(results)} passed"
        say(f"  {title}: checks re-run on production's version, {passed}/{len(results)} passed")

    say("  writing the review report")
    review, css = build_review(
        changes,
        actions,
        base,
        head,
        store,
        settings.executed_dir,
        {
            "branch": args.branch,
            "base": args.base,
            "base_commit": args.base_commit,
            "head_commit": args.head_commit,
        },
        rechecked,
    )
    args.report_dir.mkdir(parents=True, exist_ok=True)
    html_path = args.report_dir / "report.html"
    markdown_path = args.report_dir / "report.md"
    html_path.write_text(render_html(review, css), encoding="utf-8")
    markdown_path.write_text(render_markdown(review, str(html_path)), encoding="utf-8")
    say(
        json.dumps(
            {
                "report": str(html_path),
                "markdown": str(markdown_path),
                "materialized": _labels([n for n in work.run if n not in failed]),
                "reused": _labels(work.reused),
                "checks": _labels(work.checks),
                "failed": _labels(failed),
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
