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

from catalog_assets.catalog import graph
from catalog_assets.catalog.discovery import Catalog, inspect_catalog
from catalog_assets.catalog.fingerprint import versions
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
    run: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    #: Upstream entries production has no version of, run so the changed ones can be.
    pulled_in: list[str] = field(default_factory=list)


def _current_input_version(store: CatalogStore, catalog: Catalog, name: str) -> str | None:
    if name in catalog.sources:
        info = store.source_info(catalog.sources[name].location)
        return info.version if info else None
    resolved = store.resolve(name)
    return resolved.ref.sha256 if resolved else None


def reusable(store: CatalogStore, catalog: Catalog, name: str, pending: set[str]) -> bool:
    """The branch already holds a version of ``name`` computed by this code from the inputs as
    they are now."""
    found = store.read_ref(name)
    if found is None:
        return False
    ref, entry = found[0], catalog.entries[name]
    if ref.code_version != versions(entry).code:
        return False
    for upstream in entry.metadata.inputs:
        recorded = ref.inputs.get(upstream)
        if upstream in pending or recorded is None:
            return False
        if recorded.version != _current_input_version(store, catalog, upstream):
            return False
    return True


def plan(store: CatalogStore, head: Catalog, to_run: list[str], checks: list[str]) -> Plan:
    result = Plan(checks=list(checks))
    wanted = set(to_run)
    frontier = list(to_run)
    while frontier:  # upstream production has never materialized must run in the branch too
        for upstream in head.graph.get(frontier.pop(), []):
            if upstream not in wanted and store.resolve(upstream) is None:
                wanted.add(upstream)
                result.pulled_in.append(upstream)
                frontier.append(upstream)
    pending: set[str] = set()
    for name in head.upstream_order():
        if name not in wanted:
            continue
        if reusable(store, head, name, pending):
            result.reused.append(name)
        else:
            result.run.append(name)
            pending.add(name)
    return result


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
            f"; also running {', '.join(work.pulled_in)} (production has no version)"
            if work.pulled_in
            else ""
        )
    )
    instance = dg.DagsterInstance.get()
    job = definitions.resolve_implicit_global_asset_job_def()
    actions: dict[str, str] = {name: "reused (same code, same inputs)" for name in work.reused}
    failed: list[str] = []
    for number, name in enumerate(work.run, 1):
        blocked = [u for u in graph.upstream(head.graph, [name]) if u in failed]
        if blocked:
            actions[name] = f"not run: upstream {', '.join(blocked)} failed"
            failed.append(name)
            say(f"  [{number}/{len(work.run)}] {name}: skipped, {actions[name]}")
            continue
        say(f"  [{number}/{len(work.run)}] {name}: running")
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(name)],
            raise_on_error=False,
            run_config=LOGGED,
            tags={PREVIEW_TAG: args.head_commit[:12]},
        )
        seconds = time.monotonic() - started
        if result.success:
            actions[name] = f"materialized in run {result.run_id[:8]} ({seconds:.1f} s)"
            say(f"  [{number}/{len(work.run)}] {name}: materialized in {seconds:.1f} s")
        else:
            failure = next(
                (e.step_failure_data.error.message for e in result.all_events if e.is_step_failure),
                "failed",
            )
            actions[name] = f"FAILED in run {result.run_id[:8]}: {failure.splitlines()[0]}"
            failed.append(name)
            say(f"  [{number}/{len(work.run)}] {name}: FAILED: {failure.splitlines()[0]}")

    rechecked: dict[str, list[CheckResult]] = {}
    for name in work.checks:
        production = store.read_ref(name, area=PROD_AREA)
        if production is None:
            actions[name] = "checks not re-run: production has no version"
            continue
        results = checks_on(production[0], head.entries[name], store)
        rechecked[name] = results
        for outcome in results:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey(name),
                    check_name=outcome.name,
                    passed=outcome.passed,
                    description=f"{outcome.message} (production's version {production[0].short})",
                    metadata=outcome.metadata,
                )
            )
        passed = sum(r.passed for r in results)
        actions[name] = f"checks re-run on production's version: {passed}/{len(results)} passed"
        say(f"  {name}: checks re-run on production's version, {passed}/{len(results)} passed")

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
                "materialized": [n for n in work.run if n not in failed],
                "reused": work.reused,
                "checks": work.checks,
                "failed": failed,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
