"""Secrets never land in an artefact. Secret values are planted in the environment of full runs
(production materializing the sample catalog, a branch preview, the refresh sensor promoting
the merge) beside notebooks that print their whole environment and fail with a credential in
the message; then every file those runs left (storage, the Dagster instances' databases and
compute logs, executed notebooks, review reports, logs) is scanned for the values."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import nbformat
import pytest

from catalog_assets.cli import main
from catalog_assets.sample_data import write_sources
from tests.conftest import TEST_SAMPLE
from tests.helpers import copy_sample_catalog, load_defs
from tests.production_repo import _ENV, git

pytestmark = pytest.mark.notebook

PLANTED = {
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEY4242",
    "AWS_SECRET_ACCESS_KEY": "planted/aws+secret/Zq81xKey",
    "DATABASE_URL": "postgresql://catalog:planted-db-pass-77@db.internal:5432/catalog",
    "DAGSTER_PG_PASSWORD": "planted-pg-password-5150",
    "CATALOG_NOTIFY_URL": "https://bot:planted-url-pass-31@hooks.example.com/catalog",
    "SLACK_API_TOKEN": "xoxb-planted-token-9f3e",
}
#: What must never be found: each secret value, and the password of each URL.
NEEDLES = [
    *(v for k, v in PLANTED.items() if not k.endswith("_URL")),
    "planted-db-pass-77",
    "planted-url-pass-31",
]

IMPORTS = "import os\n\nimport pandas as pd\n\nfrom catalog_assets import notebook as catalog"
PRINTS_ITS_ENVIRONMENT = [
    IMPORTS,
    "for name, value in sorted(os.environ.items()):\n    print(name, value)",
    "repr(dict(os.environ))",
    "catalog.output(pd.DataFrame({'variables': [len(os.environ)]}))",
]
FAILS_WITH_A_CREDENTIAL = [
    IMPORTS,
    "raise RuntimeError(\n"
    "    'refused key ' + os.environ['AWS_SECRET_ACCESS_KEY']\n"
    "    + ' at ' + os.environ['CATALOG_NOTIFY_URL']\n"
    ")",
    "catalog.output(pd.DataFrame({'never': [1]}))",
]


def add_entry(catalog: Path, name: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, catalog / "security" / f"{name}.ipynb")
    (catalog / "security" / f"{name}.yaml").write_text(
        f"description: {name}, a notebook careless with secrets.\nowner: team:security\n"
    )


def scan(folder: Path) -> list[str]:
    """Every (file, secret) where a planted value appears in a file under ``folder``."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n}" for n in NEEDLES if n.encode() in data]
    return found


def test_planted_secrets_appear_in_no_artefact_of_runs_previews_and_promotions(
    tmp_path, monkeypatch
):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    copy_sample_catalog(repo / "notebooks")
    (repo / "notebooks" / "security").mkdir()
    add_entry(repo / "notebooks", "prints_its_environment", PRINTS_ITS_ENVIRONMENT)
    add_entry(repo / "notebooks", "fails_with_a_credential", FAILS_WITH_A_CREDENTIAL)
    (repo / ".gitignore").write_text(".catalog/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "The sample catalog and two careless notebooks")
    write_sources(str(repo / ".catalog" / "storage"), TEST_SAMPLE)
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        **PLANTED,
        "CATALOG_HOME": str(repo),
        "CATALOG_DIR": str(repo / "notebooks"),
    }.items():
        monkeypatch.setenv(name, value)

    # Production materializes everything from the shell (compute logs captured by the instance).
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    prod_home = repo / ".catalog" / "dagster" / "prod"
    monkeypatch.setenv("DAGSTER_HOME", str(prod_home))
    assert main(["instance"]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m"]
        + ["catalog_assets.definitions", "--select", "*"],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert done.returncode != 0 and "fails_with_a_credential" in done.stderr
    assert not any(n in done.stdout + done.stderr for n in NEEDLES)

    # A branch changes a careless notebook and an entry; its preview runs both.
    git(repo, "checkout", "-q", "-b", "feature/careless", "main")
    path = repo / "notebooks" / "security" / "prints_its_environment.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\nprint('again', os.environ['AWS_SECRET_ACCESS_KEY'])"
    nbformat.write(nb, path)
    git(repo, "commit", "-qam", "Print once more")
    git(repo, "checkout", "-q", "main")
    monkeypatch.delenv("CATALOG_DEPLOYMENT")
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["preview", "feature/careless"]) == 0

    # Merged, production's sensor promotes the previewed result and reruns the failure.
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature/careless", "feature/careless")
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    monkeypatch.setenv("DAGSTER_HOME", str(prod_home))
    definitions = load_defs()
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.get(),
        resources={"catalog_storage": definitions.resources["catalog_storage"]},
    ) as context:
        ticked = definitions.resolve_sensor_def("catalog_refresh").evaluate_tick(context)
    (request,) = ticked.run_requests
    assert {k.path[-1] for k in request.asset_selection} >= {"prints_its_environment"}
    definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=list(request.asset_selection),
        tags={**request.tags, "dagster/run_key": request.run_key},
        raise_on_error=False,
    )

    # The careless notebooks did print and raise the values (the scan below is not vacuous) ...
    executed = list((repo / ".catalog" / "executed").rglob("prints_its_environment.ipynb"))
    assert len(executed) >= 2
    text = executed[0].read_text()
    assert "AWS_SECRET_ACCESS_KEY ***" in text and "CATALOG_NOTIFY_URL https://***@hooks" in text
    # ... the kernel never saw the secrets it does not need ...
    assert "DATABASE_URL" not in text and "SLACK_API_TOKEN" not in text
    # ... and no file any of these runs left holds a planted value.
    assert (repo / ".catalog" / "previews").is_dir()
    assert scan(repo / ".catalog") == []
    assert not os.environ.get("CATALOG_STORAGE_URL")  # everything above stayed under the repo
