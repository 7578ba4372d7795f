"""`catalog validate` refuses what the providers' terms and the tenants' opt-outs forbid, as one
line naming the file and the field; the tenant partitions follow tenants.yaml."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import nbformat
import pytest
import yaml

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.files import Limits
from catalog_assets.orchestration.automation import sync_tenants, tenant_requests
from catalog_assets.orchestration.staleness import nodes_of, partition_sets
from tests.helpers import catalog_cli, load_defs


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def source(data: dict, name: str) -> dict:
    return next(s for s in data["sources"] if s["name"] == name)


def validate(catalog: Path) -> list[str]:
    done = catalog_cli(None, "validate", "--catalog", str(catalog), cwd=catalog, timeout=120)
    assert "Traceback" not in done.stderr
    return [line for line in done.stdout.splitlines() if ": " in line]


def test_the_sample_catalog_keeps_to_its_terms(governed_catalog_dir):
    assert validate(governed_catalog_dir) == [".: OK, 4 entries in 2 groups, 6 sources"]


BREACHES = {
    "a purpose the provider does not allow, directly and through another entry": (
        "sources.yaml",
        lambda d: source(d, "transactions")["terms"].update(
            allowed_purposes=["analytics", "model_training"]
        ),
        [
            "features/genre_affinity.yaml: purpose: 'marketing' is not allowed by the terms of "
            "source transactions (provider movio_synthetic allows analytics, model_training)",
            "churn/churn_scores.yaml: purpose: 'marketing' is not allowed by the terms of source "
            "transactions (provider movio_synthetic allows analytics, model_training), read "
            "through churn_model",
        ],
    ),
    "pooling tenants a provider keeps apart": (
        "sources.yaml",
        lambda d: source(d, "members")["terms"].update(cross_tenant="forbidden"),
        [
            "churn/churn_model.yaml: tenancy: pooled, but the terms of source members forbid "
            "combining tenants (cross_tenant: forbidden), read through member_visit_features; "
            "make it per_tenant"
        ],
    ),
    "no purpose": (
        "features/genre_affinity.yaml",
        lambda d: d.pop("purpose"),
        [
            "features/genre_affinity.yaml: purpose: required: it reads sessions, transactions "
            "under their provider's terms; declare what it is for (allowed by all: analytics, "
            "marketing, model_training)"
        ],
    ),
    "no tenancy": (
        "features/genre_affinity.yaml",
        lambda d: d.pop("tenancy"),
        ["features/genre_affinity.yaml: tenancy: required: it reads tenant data"],
    ),
    "a personal column no source has": (
        "features/member_visit_features.yaml",
        lambda d: d.update(
            personal_data={"columns": ["phone"], "reason": "to call members who lapse"}
        ),
        [
            "features/member_visit_features.yaml: personal_data.columns.0: 'phone' is not a "
            "personal column of any source it reads (birth_date, email, first_name, last_name)"
        ],
    ),
    "a personal-data reason that says nothing": (
        "features/member_visit_features.yaml",
        lambda d: d.update(personal_data={"columns": ["email"], "reason": "needed"}),
        [
            "features/member_visit_features.yaml: personal_data.reason: String should have at "
            "least 10 characters"
        ],
    ),
    "an opt-out naming a source that does not exist": (
        "tenants.yaml",
        lambda d: d["tenants"][2]["opt_out"][0].update(sources=["ticket_sales"]),
        [
            "tenants.yaml: tenants.2.opt_out.0.sources: 'ticket_sales' is not a source with a "
            "tenant column in sources.yaml"
        ],
    ),
    "two tenants with one id": (
        "tenants.yaml",
        lambda d: d["tenants"].append({"id": "roxy", "name": "Roxy again"}),
        ["tenants.yaml: tenants: tenant roxy is listed more than once"],
    ),
}


@pytest.mark.parametrize("case", list(BREACHES))
def test_validate_refuses_what_the_terms_forbid(governed_catalog_dir, case):
    file, change, expected = BREACHES[case]
    edit(governed_catalog_dir / file, change)
    lines = [line for line in validate(governed_catalog_dir) if not line.startswith(".: ")]
    for wanted in expected:
        assert any(line.startswith(wanted) for line in lines), (wanted, lines)
    assert len(lines) == len(expected), lines


def test_partitions_are_the_tenants_the_terms_allow(governed_catalog_dir):
    catalog = load_catalog(governed_catalog_dir, strict=True, limits=Limits())
    assert nodes_of(catalog) == {
        "member_visit_features": ["starlight", "roxy", "harbour"],
        # harbour opted its transactions out of marketing
        "genre_affinity": ["starlight", "roxy"],
        "churn_model": [None],
        "churn_scores": ["starlight", "roxy"],
    }
    pooled = catalog.entries["churn_model"].governance
    # roxy opted out of pooled model training
    assert pooled.allowed_tenants(("members", "transactions", "sessions"), pooled=True) == (
        "starlight",
        "harbour",
    )
    refusal = catalog.entries["genre_affinity"].governance.refusal("harbour")
    assert "harbour" in refusal and "marketing" in refusal


def test_tenant_partitions_follow_tenants_yaml(governed_catalog_dir):
    catalog = load_catalog(governed_catalog_dir, strict=True, limits=Limits())
    # A tenant an entry may not run for is not one of its partitions.
    assert partition_sets(catalog) == {
        "member_visit_features": ("tenant", ("starlight", "roxy", "harbour")),
        "genre_affinity": ("tenant_starlight_roxy", ("starlight", "roxy")),
        "churn_scores": ("tenant_starlight_roxy", ("starlight", "roxy")),
    }
    with dg.instance_for_test() as instance:
        sync_tenants(instance, catalog)
        assert instance.get_dynamic_partitions("tenant") == ["starlight", "roxy", "harbour"]
        assert instance.get_dynamic_partitions("tenant_starlight_roxy") == ["starlight", "roxy"]
        edit(
            governed_catalog_dir / "tenants.yaml",
            lambda d: d.update(tenants=[*d["tenants"][:2], {"id": "odeon", "name": "Odeon"}]),
        )
        changed = load_catalog(governed_catalog_dir, strict=True, limits=Limits())
        requests = tenant_requests(instance, changed)
        assert {
            (type(r).__name__, r.partitions_def_name): list(r.partition_keys) for r in requests
        } == {
            ("AddDynamicPartitionsRequest", "tenant"): ["odeon"],
            ("DeleteDynamicPartitionsRequest", "tenant"): ["harbour"],
        }  # with harbour gone, every per-tenant entry runs for every tenant


def test_per_tenant_assets_read_their_own_tenants_partition(
    governed_catalog_dir, catalog_env, monkeypatch
):
    monkeypatch.setenv("CATALOG_DIR", str(governed_catalog_dir))

    graph = load_defs().resolve_asset_graph()
    scores = graph.get(dg.AssetKey("churn_scores"))
    assert scores.partitions_def.name == "tenant_starlight_roxy"
    mapping = graph.get_partition_mapping(
        dg.AssetKey("churn_scores"), dg.AssetKey("genre_affinity")
    )
    assert isinstance(mapping, dg.IdentityPartitionMapping)
    assert graph.get(dg.AssetKey("churn_model")).partitions_def is None


def test_the_governed_catalog_loads_whole_and_schedules_each_tenant(
    governed_catalog_dir, catalog_env, monkeypatch
):
    monkeypatch.setenv("CATALOG_DIR", str(governed_catalog_dir))
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    definitions = load_defs()
    # Every job, schedule and sensor resolves (what the code server does on load).
    dg.Definitions.validate_loadable(definitions)
    schedule = definitions.resolve_schedule_def("churn_scores_schedule")
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            resources={"catalog_storage": definitions.resources["catalog_storage"]},
            scheduled_execution_time=datetime(2026, 11, 30, 6, tzinfo=UTC),
            repository_def=definitions.get_repository_def(),
        ) as context,
    ):
        sync_tenants(instance, load_catalog(governed_catalog_dir, limits=Limits()))
        requests = schedule.evaluate_tick(context).run_requests
    # Nothing is stored yet: each tenant's run takes the scores' stale upstream of the same
    # partitions (genre_affinity); the pooled model is the refresh sensor's.
    assert [(r.partition_key, sorted(k.path[-1] for k in r.asset_selection)) for r in requests] == [
        ("starlight", ["churn_scores", "genre_affinity"]),
        ("roxy", ["churn_scores", "genre_affinity"]),
    ]


def test_validate_refuses_reading_a_governed_source_around_catalog_load(governed_catalog_dir):
    """The terms apply through catalog.load; a notebook opening the provider's file itself (a
    path copied from before the catalog, say) is refused, naming the cell and the way in."""
    notebook = governed_catalog_dir / "features" / "member_visit_features.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(
        1,
        nbformat.v4.new_code_cell(
            "import pandas as pd\n"
            "root = '/srv/catalog/sources'\n"
            "raw = pd.read_parquet(f'{root}/movio/members.parquet')\n"
            "films = pd.read_parquet('s3://bucket/sources/movio/films.parquet')\n"
            "other = pd.read_parquet(f'{root}/elsewhere/members.parquet')"
        ),
    )
    nbformat.write(nb, notebook)
    lines = [line for line in validate(governed_catalog_dir) if not line.startswith(".: ")]
    where = "features/member_visit_features.ipynb: cell 2, line"
    assert lines == [
        f"{where} 3: reads source 'members' from its file (f'{{root}}/movio/members.parquet'); use "
        "catalog.load('members') instead: only then does a run record the version it read and "
        "apply its provider's data-usage terms (tenant rows, personal columns)",
        f"{where} 4: warning: reads source 'films' from its file "
        "('s3://bucket/sources/movio/films.parquet'); use catalog.load('films') instead: only "
        "then does a run record the version it read",
    ]
