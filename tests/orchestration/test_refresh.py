"""Production refresh on a temporary git repository whose sample catalog is materialized in
production: the sensor's ticks against a real instance, promotion of a previewed branch after its
merge (no kernel started), recompute when a source moved on, source observation, schedules."""

import json
import time
from pathlib import Path

import dagster as dg
import nbformat
import pandas as pd
import pytest

from catalog_assets.cli import main
from catalog_assets.settings import branch_slug
from tests.helpers import load_defs
from tests.production_repo import git

pytestmark = pytest.mark.notebook
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@pytest.fixture
def prod(repo: Path, monkeypatch):
    """The production deployment of the repository's main branch, on its own instance."""
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    monkeypatch.setenv("DAGSTER_HOME", str(repo / ".catalog" / "dagster" / "prod"))
    yield repo
    git(repo, "checkout", "-q", "main")
    git(repo, "reset", "-q", "--hard")


def tick(cursor: str | None = None):
    """One evaluation of the refresh sensor, as the daemon runs it."""
    definitions = load_defs()
    sensor = definitions.resolve_sensor_def("catalog_refresh")
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.get(),
        cursor=cursor,
        resources={"catalog_storage": definitions.resources["catalog_storage"]},
    ) as context:
        return sensor.evaluate_tick(context)


def launch(request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Launch a requested run as the daemon would: with its run key and the sensor's tags."""
    job = load_defs().resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=list(request.asset_selection),
        tags={
            **request.tags,
            "dagster/run_key": request.run_key,
            "dagster/sensor_name": "catalog_refresh",
        },
        run_config=QUIET,
        raise_on_error=False,
    )


def requested(result) -> set[str]:
    return {k.path[-1] for r in result.run_requests or [] for k in r.asset_selection}


def edit_code(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if old in c.source)
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def prod_ref(repo: Path, name: str) -> dict:
    return json.loads((repo / ".catalog/storage/prod/refs" / f"{name}.json").read_text())


def kernels_started(repo: Path, run_id: str) -> int:
    return len(list((repo / ".catalog" / "executed" / run_id).glob("*.ipynb")))


def test_ticks_request_exactly_what_is_stale_once_and_never_resubmit_a_failure(prod):
    repo = prod
    first = tick()
    assert not first.run_requests
    assert "production holds the current version of every entry" in first.skip_message
    # The first tick observes every source, with its version as the data version.
    observed = {e.asset_key.path[-1]: e.tags["dagster/data_version"] for e in first.asset_events}
    assert set(observed) == {"chains", "cinemas", "films", "members", "sessions", "transactions"}

    # A description edit changes nothing production holds.
    yaml_path = repo / "notebooks/features/genre_affinity.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("Share of each", "The share of each"))
    assert not tick().run_requests

    notebook = repo / "notebooks/features/genre_affinity.ipynb"
    edit_code(notebook, 'affinity["top_genre"].value_counts()', 'affinity["tickets_max"] = 1')
    result = tick()
    assert requested(result) == {"genre_affinity", "churn_scores"}
    request = result.run_requests[0]
    assert (
        request.tags["catalog/deployment"] == "prod" and request.tags["catalog/refresh"] == "sensor"
    )
    assert "genre_affinity: code changed" in request.tags["catalog/stale"]
    assert tick().run_requests[0].run_key == request.run_key  # the same state, the same key
    run = launch(request)
    assert run.success
    assert not tick().run_requests  # refreshed: nothing stale, no duplicate

    # A change that fails is requested once; the next ticks say why and do not resubmit it.
    edit_code(notebook, 'affinity["tickets_max"] = 1', 'raise RuntimeError("broken on purpose")')
    failing = tick().run_requests[0]
    assert not launch(failing).success
    again = tick()
    assert not again.run_requests
    assert "failed; not resubmitted until the code or the inputs change" in again.skip_message
    # Fixing the code is a new state: a new request.
    edit_code(notebook, 'raise RuntimeError("broken on purpose")', 'affinity["tickets_max"] = 2')
    fixed = tick().run_requests[0]
    assert fixed.run_key != failing.run_key and launch(fixed).success
    git(repo, "commit", "-qam", "Count tickets (what production now holds)")


def make_branch(repo: Path, name: str, change) -> None:
    git(repo, "checkout", "-q", "-b", name, "main")
    change(repo)
    git(repo, "commit", "-qam", name)
    git(repo, "checkout", "-q", "main")


def preview_then_merge(repo: Path, branch: str, monkeypatch) -> None:
    monkeypatch.delenv("CATALOG_DEPLOYMENT")
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["preview", branch]) == 0
    git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    monkeypatch.setenv("DAGSTER_HOME", str(repo / ".catalog" / "dagster" / "prod"))


def test_a_merged_preview_is_promoted_without_a_kernel_and_chains_promote(prod, monkeypatch):
    repo = prod
    branch = "feature/active-150"
    make_branch(
        repo,
        branch,
        lambda r: edit_code(
            r / "notebooks/features/member_visit_features.ipynb",
            "ACTIVE_WINDOW = pd.Timedelta(days=120)",
            "ACTIVE_WINDOW = pd.Timedelta(days=150)",
        ),
    )
    preview_then_merge(repo, branch, monkeypatch)
    area = f"branches/{branch_slug(branch)}"
    previewed = {
        n: json.loads((repo / ".catalog/storage" / area / "refs" / f"{n}.json").read_text())
        for n in ("member_visit_features", "churn_model", "churn_scores")
    }
    result = tick()
    assert requested(result) == {"member_visit_features", "churn_model", "churn_scores"}
    run = launch(result.run_requests[0])
    assert run.success
    assert kernels_started(repo, run.run_id) == 0  # promoted, not recomputed
    for name, branch_ref in previewed.items():
        ref = prod_ref(repo, name)
        assert ref["event"] == "promoted" and ref["sha256"] == branch_ref["sha256"]
        assert ref["promoted_from"]["area"] == area and ref["promoted_from"]["branch"] == branch
    instance = dg.DagsterInstance.get()
    latest = instance.get_latest_materialization_event(
        dg.AssetKey("churn_model")
    ).asset_materialization
    assert latest.metadata["catalog/event"].value == "promoted"
    assert latest.tags["dagster/data_version"] == previewed["churn_model"]["sha256"]
    assert not tick().run_requests


def test_a_source_changed_since_the_preview_means_recompute(prod, monkeypatch):
    repo = prod
    branch = "feature/genre-shares"
    make_branch(
        repo,
        branch,
        lambda r: edit_code(
            r / "notebooks/features/genre_affinity.ipynb",
            'affinity["tickets_total"] = by_genre.sum(axis=1).to_numpy()',
            'affinity["tickets_total"] = by_genre.sum(axis=1).to_numpy()\n'
            'affinity["genres_seen"] = (shares > 0).sum(axis=1).to_numpy()',
        ),
    )
    preview_then_merge(repo, branch, monkeypatch)
    films = repo / ".catalog/storage/sources/movio/films.parquet"
    frame = pd.read_parquet(films)
    frame.loc[0, "genre"] = "Drama" if frame.loc[0, "genre"] != "Drama" else "Comedy"
    frame.to_parquet(films)
    result = tick()
    assert requested(result) == {"genre_affinity", "churn_scores"}
    run = launch(result.run_requests[0])
    assert run.success
    assert kernels_started(repo, run.run_id) == 2  # both recomputed from the new films
    assert prod_ref(repo, "genre_affinity")["event"] == "materialized"
    log = [e.message for e in dg.DagsterInstance.get().all_logs(run.run_id) if e.message]
    assert any("computed from other versions of films" in m for m in log)


def test_a_new_source_version_is_observed_on_its_cadence_and_refreshes_its_readers(prod):
    repo = prod
    sources = repo / "notebooks/sources.yaml"
    sources.write_text(
        sources.read_text().replace(
            "location: movio/films.parquet",
            "location: movio/films.parquet\n    observe_every_minutes: 1",
        )
    )
    first = tick()
    assert not first.run_requests
    films = repo / ".catalog/storage/sources/movio/films.parquet"
    pd.read_parquet(films).head(150).to_parquet(films)
    soon = tick(first.cursor)
    assert not soon.run_requests  # not due yet: the last observation stands
    cursor = json.loads(first.cursor)
    cursor["sources"]["films"]["at"] = time.time() - 120
    due = tick(json.dumps(cursor))
    assert [e.asset_key.path[-1] for e in due.asset_events] == ["films"]
    assert requested(due) == {"genre_affinity", "churn_scores"}
    assert "source films changed" in due.run_requests[0].tags["catalog/stale"]
    assert launch(due.run_requests[0]).success


def test_a_scheduled_run_includes_its_stale_upstream(prod):
    repo = prod
    edit_code(
        repo / "notebooks/features/member_visit_features.ipynb",
        "LAPSE_WINDOW = pd.Timedelta(days=60)",
        "LAPSE_WINDOW = pd.Timedelta(days=61)",
    )
    definitions = load_defs()
    schedule = definitions.resolve_schedule_def("churn_scores_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context(
        instance=dg.DagsterInstance.get(),
        resources={"catalog_storage": definitions.resources["catalog_storage"]},
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert {k.path[-1] for k in request.asset_selection} == {
        "member_visit_features",
        "churn_model",
        "churn_scores",
    }
    assert request.tags["catalog/refresh"] == "schedule"
