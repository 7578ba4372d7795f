"""The terms hold where data is used: each tenant's partition sees only its tenant's rows, a pooled
model only the tenants that allow pooling, no product keeps a personal column it did not declare,
a partition the terms forbid never runs, Jupyter applies the same rules, and a tenant that leaves
or data past its retention is erased. Real notebooks in real kernels, real `catalog` commands."""

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import nbformat
import pandas as pd
import pytest
import yaml
from nbclient.exceptions import CellExecutionError

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.cli.gc import retention_days
from catalog_assets.orchestration.staleness import assess
from catalog_assets.settings import Settings
from catalog_assets.storage.maintenance import DAY, collect
from catalog_assets.storage.store import CatalogStore
from tests.helpers import (
    catalog_cli,
    copy_sample_catalog,
    load_defs,
    outputs_text,
    run_like_jupyter,
)

pytestmark = pytest.mark.notebook

PERSONAL = {"first_name", "last_name", "email", "birth_date"}


def project(root: Path, sample_sources: Path) -> dict[str, str]:
    """A scratch project with the governed sample catalog and sample sources."""
    copy_sample_catalog(root / "notebooks", terms=True)
    shutil.copytree(sample_sources, root / "storage" / "sources")
    env = {
        **os.environ,
        "CATALOG_HOME": str(root),
        "CATALOG_DIR": str(root / "notebooks"),
        "CATALOG_STORAGE_URL": str(root / "storage"),
        "CATALOG_DEPLOYMENT": "local",
    }
    for name in ("CATALOG_BRANCH", "DAGSTER_HOME", "CATALOG_TENANT"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def governed(tmp_path_factory, sample_sources) -> dict[str, str]:
    """The governed sample catalog, materialized once with `catalog materialize`."""
    env = project(tmp_path_factory.mktemp("governed"), sample_sources)
    done = catalog_cli(env, "materialize")
    assert done.returncode == 0, done.stdout + done.stderr
    env["MATERIALIZE_OUTPUT"] = done.stdout
    return env


@pytest.fixture
def governed_copy(governed, tmp_path) -> dict[str, str]:
    """A private copy of the materialized project, for a test that changes it."""
    root = tmp_path / "project"
    shutil.copytree(governed["CATALOG_HOME"], root, symlinks=True)
    return {
        **governed,
        "CATALOG_HOME": str(root),
        "CATALOG_DIR": str(root / "notebooks"),
        "CATALOG_STORAGE_URL": str(root / "storage"),
    }


def ref(env: dict[str, str], entry: str, tenant: str | None = None) -> dict | None:
    refs = Path(env["CATALOG_STORAGE_URL"]) / "local" / "refs"
    path = refs / entry / f"{tenant}.json" if tenant else refs / f"{entry}.json"
    return json.loads(path.read_text()) if path.exists() else None


def product(env: dict[str, str], entry: str, tenant: str | None = None) -> pd.DataFrame:
    return pd.read_parquet(Path(env["CATALOG_STORAGE_URL"]) / ref(env, entry, tenant)["object"])


def members_of(env: dict[str, str]) -> dict[str, set]:
    members = pd.read_parquet(Path(env["CATALOG_STORAGE_URL"]) / "sources/movio/members.parquet")
    return {chain: set(rows.member_id) for chain, rows in members.groupby("chain_id")}


def test_catalog_materialize_runs_each_allowed_partition(governed):
    lines = governed["MATERIALIZE_OUTPUT"].splitlines()
    ran = [
        line.removeprefix("materializing ") for line in lines if line.startswith("materializing")
    ]
    # One run per tenant and partitions definition (genre_affinity and churn_scores have no
    # harbour partition), in dependency order.
    assert ran == [
        "member_visit_features for tenant starlight",
        "member_visit_features for tenant roxy",
        "member_visit_features for tenant harbour",
        "genre_affinity for tenant starlight",
        "genre_affinity for tenant roxy",
        "churn_model",
        "churn_scores for tenant starlight",
        "churn_scores for tenant roxy",
    ]
    again = catalog_cli(governed, "materialize")
    assert again.returncode == 0
    assert again.stdout.strip() == "local: every entry is up to date"


def test_each_partition_holds_only_its_tenants_members(governed):
    members = members_of(governed)
    for entry, tenants in {
        "member_visit_features": ["starlight", "roxy", "harbour"],
        "genre_affinity": ["starlight", "roxy"],
        "churn_scores": ["starlight", "roxy"],
    }.items():
        for tenant in tenants:
            table = product(governed, entry, tenant)
            assert len(table) > 0
            assert set(table.member_id) <= members[tenant], (entry, tenant)
            assert not PERSONAL & set(table.columns), (entry, tenant)
    # harbour opted its transactions out of marketing: no marketing product for it
    assert ref(governed, "genre_affinity", "harbour") is None
    assert ref(governed, "churn_scores", "harbour") is None


def test_the_pooled_model_reads_only_tenants_that_allow_pooling(governed):
    model = ref(governed, "churn_model")
    assert sorted(model["inputs"]) == [
        "member_visit_features[harbour]",
        "member_visit_features[starlight]",
    ]
    pooled = sum(
        len(product(governed, "member_visit_features", t)) for t in ("starlight", "harbour")
    )
    everyone = pooled + len(product(governed, "member_visit_features", "roxy"))
    # trained on a share of the pooled tenants' members, never on roxy's
    assert model["metrics"]["train_rows"] <= pooled < everyone


def test_a_partition_the_terms_forbid_is_never_run(governed_copy, monkeypatch):
    for name, value in governed_copy.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", governed_copy["CATALOG_HOME"])
    with dg.DagsterInstance.get() as instance:
        # harbour is not a partition of genre_affinity (nor of what reads it): the UI offers no
        # such run. An instance whose partitions lag behind tenants.yaml still refuses it.
        assert "harbour" not in load_defs().resolve_asset_graph().get(
            dg.AssetKey("genre_affinity")
        ).partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        instance.add_dynamic_partitions("tenant_starlight_roxy", ["starlight", "roxy", "harbour"])
        result = (
            load_defs()
            .resolve_implicit_global_asset_job_def()
            .execute_in_process(
                instance=instance,
                asset_selection=[dg.AssetKey("genre_affinity")],
                partition_key="harbour",
                raise_on_error=False,
            )
        )
        assert result.success
        assert result.get_asset_materialization_events() == []
        observed = result.get_asset_observation_events()
        assert len(observed) == 1
        why = observed[0].asset_observation_data.asset_observation.metadata["catalog/not_run"]
        assert "harbour" in why.value and "marketing" in why.value
    assert ref(governed_copy, "genre_affinity", "harbour") is None


def add_entry(catalog_dir: Path, name: str, metadata: dict, cells: list[str]) -> None:
    (catalog_dir / "features" / f"{name}.yaml").write_text(yaml.safe_dump(metadata))
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, catalog_dir / "features" / f"{name}.ipynb")


def test_personal_columns_stay_out_unless_declared(governed_copy):
    env = governed_copy
    contacts = {
        "description": "Members to contact about a premiere, with how to reach them.",
        "owner": "team:marketing",
        "purpose": "marketing",
        "tenancy": "per_tenant",
        "inputs": ["members"],
    }
    add_entry(
        Path(env["CATALOG_DIR"]),
        "premiere_contacts",
        contacts,
        [
            "from catalog_assets import notebook as catalog",
            "members = catalog.load('members')\n"
            "members['email'] = members.member_id.astype(str) + '@example.org'\n"
            "catalog.output(members[['member_id', 'email']])",
        ],
    )
    refused = catalog_cli(env, "materialize", "premiere_contacts")
    assert refused.returncode == 1
    assert (
        "catalog.output: premiere_contacts: refused by the data-usage terms: column 'email' is "
        "personal data of source members; declare it under personal_data"
    ) in refused.stdout
    assert ref(env, "premiere_contacts", "starlight") is None

    contacts["personal_data"] = {
        "columns": ["email"],
        "reason": "marketing emails to members who opted in at their chain",
    }
    add_entry(
        Path(env["CATALOG_DIR"]),
        "premiere_contacts",
        contacts,
        [
            "from catalog_assets import notebook as catalog",
            "members = catalog.load('members')\n"
            "assert 'email' in members and 'birth_date' not in members\n"
            "catalog.output(members[['member_id', 'chain_id', 'email']])",
        ],
    )
    allowed = catalog_cli(env, "materialize", "premiere_contacts")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    # What each partition's kernel received. harbour's opt-out of marketing covers only its
    # transactions, which this entry does not read.
    for tenant in ("starlight", "roxy", "harbour"):
        table = product(env, "premiere_contacts", tenant)
        assert list(table.columns) == ["member_id", "chain_id", "email"]
        assert set(table.chain_id) == {tenant}
        assert set(table.member_id) == members_of(env)[tenant]


@pytest.mark.parametrize(
    ("purpose", "chains"),
    [("model_training", {"starlight", "harbour"}), ("analytics", {"starlight", "roxy", "harbour"})],
)
def test_a_pooled_entry_sees_only_the_tenants_that_allow_its_purpose(
    governed_copy, purpose, chains
):
    env = governed_copy
    add_entry(
        Path(env["CATALOG_DIR"]),
        "members_per_chain",
        {
            "description": "How many members each chain brings to a pooled model.",
            "owner": "team:data-science",
            "purpose": purpose,
            "tenancy": "pooled",
            "inputs": ["members"],
        },
        [
            "from catalog_assets import notebook as catalog",
            "members = catalog.load('members')\n"
            "catalog.output(members.groupby('chain_id').size().rename('members').reset_index())",
        ],
    )
    done = catalog_cli(env, "materialize", "members_per_chain")
    assert done.returncode == 0, done.stdout + done.stderr
    table = product(env, "members_per_chain")
    assert set(table.chain_id) == chains
    everyone = members_of(env)
    assert dict(zip(table.chain_id, table.members, strict=True)) == {
        c: len(everyone[c]) for c in chains
    }


def test_a_raw_file_of_restricted_data_is_refused(governed_copy):
    env = governed_copy
    add_entry(
        Path(env["CATALOG_DIR"]),
        "raw_members",
        {
            "description": "Members read from the raw file.",
            "owner": "team:marketing",
            "purpose": "analytics",
            "tenancy": "per_tenant",
            "inputs": ["members"],
        },
        [
            "from catalog_assets import notebook as catalog",
            "import pandas as pd\ncatalog.output(pd.read_parquet(catalog.path('members')))",
        ],
    )
    done = catalog_cli(env, "materialize", "raw_members")
    assert done.returncode == 1
    assert (
        "catalog.path('members'): the data-usage terms let this notebook see only the rows of "
        "starlight and none of the personal columns"
    ) in done.stdout


def test_jupyter_applies_the_same_rules(governed, monkeypatch):
    for name, value in governed.items():
        monkeypatch.setenv(name, value)
    notebook = Path(governed["CATALOG_DIR"]) / "features" / "genre_affinity.ipynb"
    monkeypatch.delenv("CATALOG_TENANT", raising=False)
    with pytest.raises(CellExecutionError, match="set CATALOG_TENANT to one of starlight, roxy"):
        run_like_jupyter(notebook)
    monkeypatch.setenv("CATALOG_TENANT", "harbour")
    with pytest.raises(CellExecutionError, match="CATALOG_TENANT=harbour: "):
        run_like_jupyter(notebook)

    scratch = Path(governed["CATALOG_DIR"]) / "features" / "explore.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell(
                    "from catalog_assets import notebook as catalog\n"
                    "members = catalog.load('members')\n"
                    "print(sorted(members.chain_id.unique()), sorted(members.columns))"
                )
            ]
        ),
        scratch,
    )
    try:
        monkeypatch.setenv("CATALOG_TENANT", "roxy")
        shown = outputs_text(run_like_jupyter(scratch).cells[0])
    finally:
        scratch.unlink()
    assert shown.startswith("['roxy']")
    assert not any(column in shown for column in PERSONAL)


def test_purging_a_tenant_erases_what_was_computed_from_its_data(governed_copy):
    env = governed_copy
    harbour = members_of(env)["harbour"]
    tenants = Path(env["CATALOG_DIR"]) / "tenants.yaml"
    refused = catalog_cli(env, "purge", "--tenant", "harbour")
    assert refused.returncode == 2
    assert "tenant 'harbour' is still listed; remove it first" in refused.stderr

    data = yaml.safe_load(tenants.read_text())
    data["tenants"] = [t for t in data["tenants"] if t["id"] != "harbour"]
    tenants.write_text(yaml.safe_dump(data))
    staging = Path(env["CATALOG_STORAGE_URL"]) / ".staging"
    staging.mkdir(exist_ok=True)  # as a run killed while staging harbour's partition leaves it
    (staging / "20261124T000000_1@host_abcdef12_member_visit_features--harbour_a1b2c3").mkdir()
    purged = catalog_cli(env, "purge", "--tenant", "harbour")
    assert purged.returncode == 0, purged.stderr
    assert not list(staging.iterdir())
    assert "deleted local: member_visit_features[harbour]" in purged.stdout
    assert "deleted local: churn_model" in purged.stdout  # trained with harbour's members
    assert "deleted local: churn_scores[starlight]" in purged.stdout  # scored by that model

    root = Path(env["CATALOG_HOME"])
    stored = [
        p
        for p in root.rglob("*")
        if p.is_file() and "sources" not in p.relative_to(root).parts and "dagster" not in p.parts
    ]
    # No byte of harbour's is left: no file names it, holds its name or any of its members.
    assert not [p for p in stored if "harbour" in str(p) or b"harbour" in p.read_bytes()]
    for path in stored:
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
            assert "member_id" not in table or not set(table.member_id) & harbour, path
    assert not [p for p in stored if p.suffix == ".skops"]  # the pooled model is gone

    again = catalog_cli(env, "materialize")
    assert again.returncode == 0, again.stdout + again.stderr
    assert list(ref(env, "churn_model")["inputs"]) == ["member_visit_features[starlight]"]


def test_products_past_their_retention_expire(governed_copy, monkeypatch):
    env = governed_copy
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    store = CatalogStore.open(settings.deployment)
    retention = retention_days(settings)
    assert retention == {name: 730.0 for name in retention} and len(retention) == 4

    kept = collect(store, 7, False, now=time.time() + 700 * DAY, retention=retention)
    assert kept.expired == []
    expired = collect(
        store,
        7,
        False,
        now=time.time() + 731 * DAY,
        retention=retention,
        local_executed=settings.executed_dir,
    )
    assert any(key.endswith("refs/churn_model.json") for key in expired.expired)
    assert any(key.endswith(".ipynb") for key in expired.expired)
    assert not list((Path(env["CATALOG_STORAGE_URL"]) / "local" / "refs").rglob("*.json"))
    assert not list((Path(env["CATALOG_STORAGE_URL"]) / "local" / "objects").rglob("*.*"))
    assert not list(settings.executed_dir.rglob("*.ipynb"))
    governed_catalog = load_catalog(settings.catalog_dir, strict=True, limits=settings.limits)
    code = {n: versions(e).code for n, e in governed_catalog.entries.items()}
    state = assess(governed_catalog, code, store.area_refs(store.area), {})
    assert {s.cause for s in state.stale.values()} == {"new"}  # the refresh recomputes them
