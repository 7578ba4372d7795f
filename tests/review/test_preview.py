"""`catalog diff` and `catalog preview` on a temporary git repository whose sample catalog is
materialized in production: classes, exactly what runs, production untouched, the report."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from catalog_assets.cli import main
from catalog_assets.settings import branch_slug
from catalog_assets.storage.local import LocalBackend
from tests.helpers import ENTRIES, area_digests
from tests.production_repo import branch_instance, git, materialization_counts

pytestmark = pytest.mark.notebook


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def edit_code(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if old in c.source)
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def leaf_code(repo: Path) -> None:
    path = repo / "notebooks" / "churn" / "churn_scores.ipynb"
    edit_code(path, "bins=[0.0, 0.3, 0.6, 1.0]", "bins=[0.0, 0.2, 0.5, 1.0]")
    edit_code(path, 'scores["risk_band"].value_counts()', 'scores["scored_at"] = "2026-11-24"')


def description_only(repo: Path) -> None:
    edit_text(repo / "notebooks/features/genre_affinity.yaml", "Share of each", "The share of each")


def check_only(repo: Path) -> None:
    edit_text(repo / "notebooks/features/member_visit_features.yaml", "min: 100", "min: 50")


def new_entry(repo: Path) -> None:
    from catalog_assets.catalog.scaffold import new_entry as scaffold

    scaffold(
        repo / "notebooks",
        "recent_transactions",
        "features",
        inputs=["transactions"],
        owner="team:ds",
    )


def removal(repo: Path) -> None:
    git(repo, "rm", "-q", "notebooks/churn/churn_scores.ipynb", "notebooks/churn/churn_scores.yaml")


def upstream_code(repo: Path) -> None:
    edit_code(
        repo / "notebooks/features/member_visit_features.ipynb",
        "ACTIVE_WINDOW = pd.Timedelta(days=120)",
        "ACTIVE_WINDOW = pd.Timedelta(days=150)",
    )


def make_branch(repo: Path, name: str, change) -> str:
    git(repo, "checkout", "-q", "-b", name, "main")
    change(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{name}")
    git(repo, "checkout", "-q", "main")
    return name


def production_bytes(repo: Path) -> dict[str, str]:
    """Every byte production reads: its area and the objects its refs name."""
    backend = LocalBackend(repo / ".catalog" / "storage")
    found = area_digests(backend, "prod/")
    for key in [k for k in found if "/refs/" in k]:
        data, _ = backend.get_bytes(key)
        obj = json.loads(data)["object"]
        found.update(area_digests(backend, obj))
    return found


SCENARIOS = {
    "leaf-code": (leaf_code, {"churn_scores": "code"}, {"churn_scores"}),
    "description": (description_only, {"genre_affinity": "metadata"}, set()),
    "check": (check_only, {"member_visit_features": "checks"}, set()),
    "new-entry": (new_entry, {"recent_transactions": "new"}, {"recent_transactions"}),
    "removal": (removal, {"churn_scores": "removed"}, set()),
    "upstream": (
        upstream_code,
        {"member_visit_features": "code", "churn_model": "stale", "churn_scores": "stale"},
        {"member_visit_features", "churn_model", "churn_scores"},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_diff_classes_each_kind_of_change(repo, capsys, scenario):
    change, classes, _ = SCENARIOS[scenario]
    branch = make_branch(repo, f"diff/{scenario}", change)
    assert main(["diff", "--head", branch, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema"] == "catalog-diff/1"
    assert {e["name"]: e["change"] for e in result["entries"]} == classes
    # Reading another ref never touched the working tree.
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_preview_runs_exactly_what_changed_and_leaves_production_untouched(repo, capsys, scenario):
    change, classes, runs = SCENARIOS[scenario]
    branch = make_branch(repo, f"preview/{scenario}", change)
    before = production_bytes(repo)
    assert main(["preview", branch]) == 0
    out = capsys.readouterr().out
    report = Path(re.search(r"^report: (.+)$", out, re.M)[1])
    assert out.strip().splitlines()[-1] == f"report: {report}"
    instance = branch_instance(repo, branch)
    names = set(ENTRIES) | {"recent_transactions"}
    assert {n for n, count in materialization_counts(instance, names).items() if count} == runs
    assert production_bytes(repo) == before
    text = report.read_text()
    for kind in classes.values():
        assert f'<span class="badge {kind}">{kind}</span>' in text
    summary = report.with_name("report.md").read_text()
    assert all(f"`{name}` | {kind}" in summary for name, kind in classes.items())
    # The runs' event log is kept beside the report.
    log = report.with_name("preview.log").read_text()
    assert all(f"{name} - STEP_SUCCESS" in log for name in runs), log[-2000:]
    runs_tagged = instance.get_runs()
    assert all(r.tags["catalog/branch"] == branch for r in runs_tagged)
    assert all(r.tags["catalog/deployment"] == "branch" for r in runs_tagged)


def test_the_report_shows_the_data_and_model_differences(repo, capsys):
    branch = make_branch(repo, "report/both", lambda r: (leaf_code(r), upstream_code(r)))
    assert main(["preview", branch]) == 0
    capsys.readouterr()
    report = repo / ".catalog" / "previews" / branch_slug(branch) / "report.html"
    text = report.read_text()
    scores = text[text.index('id="churn_scores"') :]
    # A column added in the branch appears as added; changed rows come with a sample.
    assert re.search(r"added</span></td><td>scored_at</td>", scores)
    assert "Rows by key (member_id)" in scores and "Sample of changed rows" in scores
    assert "risk_band (production)" in scores and "data:image/png;base64," in scores
    # The pull-request summary says the same in a line: rows by key and the columns that moved.
    summary = report.with_name("report.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| `churn_scores`"))
    assert re.search(r"; by member_id: [\d,]+ changed", row), row
    assert "+scored_at" in row and re.search(r"risk_band \d+\.\d% equal", row), row
    # The retrained model's metric shows its delta, and both models scored the same rows.
    model = text[text.index('id="churn_model"') : text.index('id="churn_scores"')]
    assert re.search(r"<td>roc_auc</td><td>0\.\d+</td><td>0\.\d+</td><td><span class=", model)
    assert "Both models scored" in model and "same prediction" in model
    assert "Executed notebook" in text and "catalog.output(scores)" in text
    # Branch materializations carry the comparison for the Dagster UI.
    instance = branch_instance(repo, branch)
    latest = instance.get_latest_materialization_event(
        __import__("dagster").AssetKey("churn_scores")
    ).asset_materialization
    comparison = latest.metadata["catalog/comparison"].value
    assert "| added | `scored_at` |" in comparison
    assert latest.metadata["catalog/review_report"].value == report.resolve().as_uri()


def test_a_second_preview_reuses_what_is_still_valid(repo, capsys):
    branch = make_branch(repo, "reuse/leaf", leaf_code)
    assert main(["preview", branch]) == 0
    assert main(["preview", branch]) == 0
    out = capsys.readouterr().out
    assert "preview: 0 to materialize, 1 reused" in out
    assert materialization_counts(branch_instance(repo, branch), ["churn_scores"]) == {
        "churn_scores": 1
    }


def test_checks_of_a_checks_only_change_run_on_productions_value(repo, capsys):
    branch = make_branch(
        repo,
        "checks/tighter",
        lambda r: edit_text(r / "notebooks/churn/churn_scores.yaml", "min: 1\n", "min: 1000000\n"),
    )
    assert main(["preview", branch]) == 0
    out = capsys.readouterr().out
    assert "churn_scores: checks re-run on production's version, 3/4 passed" in out
    instance = branch_instance(repo, branch)
    import dagster as dg

    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("churn_scores"), "row_count"), limit=1
    )
    assert history and history[0].status.value == "FAILED"


def test_a_branch_that_conflicts_with_main_fails_clearly(repo, capsys):
    branch = make_branch(repo, "conflict/desc", description_only)
    edit_text(repo / "notebooks/features/genre_affinity.yaml", "Share of each", "A share of each")
    git(repo, "commit", "-qam", "main moved on")
    try:
        assert main(["preview", branch]) == 2
        err = capsys.readouterr().err
        assert (
            "does not merge cleanly into main: conflicts in notebooks/features/genre_affinity.yaml"
            in err
        )
        assert len(err.strip().splitlines()) == 1
    finally:
        git(repo, "reset", "-q", "--hard", "HEAD~1")
