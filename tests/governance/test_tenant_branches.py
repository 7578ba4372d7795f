"""Per-tenant entries through the review cycle: a branch preview runs and reviews each allowed
tenant's partition, and after the merge production promotes each partition's preview result
instead of recomputing it."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from catalog_assets.cli import main
from catalog_assets.sample_data import write_sources
from tests.conftest import TEST_SAMPLE
from tests.helpers import catalog_cli, copy_sample_catalog
from tests.production_repo import _ENV, git

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def governed_repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A git repository of the governed sample catalog, materialized in production."""
    repo = tmp_path_factory.mktemp("governed-repo")
    git(repo, "init", "-q", "-b", "main")
    copy_sample_catalog(repo / "notebooks", terms=True)
    (repo / ".gitignore").write_text(".catalog/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "The governed sample catalog")
    write_sources(str(repo / ".catalog" / "storage"), TEST_SAMPLE)
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    env.update(CATALOG_HOME=str(repo), CATALOG_DIR=str(repo / "notebooks"))
    done = catalog_cli(env, "materialize", "--deployment", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    return repo, env


def prod_ref(repo: Path, entry: str, tenant: str) -> dict | None:
    path = repo / ".catalog/storage/prod/refs" / entry / f"{tenant}.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_a_branch_preview_reviews_each_tenant_then_production_promotes_it(
    governed_repo, monkeypatch, capsys
):
    repo, env = governed_repo
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("CATALOG_HOME", "CATALOG_DIR"):
        monkeypatch.setenv(name, env[name])
    before = {t: prod_ref(repo, "genre_affinity", t) for t in ("starlight", "roxy")}

    branch = "feature/genres-seen"
    git(repo, "checkout", "-q", "-b", branch, "main")
    path = repo / "notebooks/features/genre_affinity.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if '"tickets_total"' in c.source)
    cell.source += '\naffinity["genres_seen"] = (by_genre > 0).sum(axis=1).to_numpy()'
    nbformat.write(nb, path)
    git(repo, "commit", "-qam", "How many genres each member saw")
    git(repo, "checkout", "-q", "main")

    assert main(["preview", branch]) == 0
    out = capsys.readouterr().out
    assert "preview: 4 to materialize, 0 reused" in out  # and churn_scores, which reads it
    for node in ("genre_affinity", "churn_scores"):
        for tenant in ("starlight", "roxy"):
            assert f"{node}[{tenant}]: materialized in" in out
    assert "harbour" not in out  # its terms keep it out of marketing
    report = Path(re.search(r"^report: (.+)$", out, re.M)[1])
    summary = report.with_name("report.md").read_text()
    for tenant in ("starlight", "roxy"):
        row = next(s for s in summary.splitlines() if s.startswith(f"| `genre_affinity[{tenant}]`"))
        assert "+genres_seen" in row, row
    html = report.read_text()
    assert 'id="genre_affinity[roxy]"' in html and "purpose: marketing, tenancy: per_tenant" in html
    assert {t: prod_ref(repo, "genre_affinity", t) for t in before} == before  # untouched

    git(repo, "merge", "-q", "--no-ff", branch, "-m", f"Merge {branch}")
    done = catalog_cli(env, "materialize", "--deployment", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "materializing genre_affinity, churn_scores for tenant starlight" in done.stdout
    for tenant in ("starlight", "roxy"):
        promoted = prod_ref(repo, "genre_affinity", tenant)
        assert promoted["event"] == "promoted", tenant
        assert promoted["promoted_from"]["branch"] == branch
        assert promoted["sha256"] != before[tenant]["sha256"]
        assert prod_ref(repo, "churn_scores", tenant)["event"] == "promoted", tenant
    assert prod_ref(repo, "genre_affinity", "harbour") is None
