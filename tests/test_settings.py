"""One resolver decides local / branch / prod from the environment it is given."""

import pytest

from catalog_assets.errors import DeploymentError
from catalog_assets.settings import Settings, branch_slug, resolve_deployment

STORAGE = {"CATALOG_STORAGE_URL": "s3://bucket/catalog"}


@pytest.mark.parametrize(
    ("environ", "kind", "area"),
    [
        ({}, "local", "local"),
        ({"CATALOG_DEPLOYMENT": "prod"}, "prod", "prod"),
        ({"CATALOG_DEPLOYMENT": "local"}, "local", "local"),
        ({"CATALOG_BRANCH": "feature/Churn v2"}, "branch", "branches/feature-churn-v2-"),
        ({"DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod"}, "prod", "prod"),
        ({"DAGSTER_CLOUD_DEPLOYMENT_NAME": "staging"}, "local", "local"),
        (
            {
                "DAGSTER_CLOUD_DEPLOYMENT_NAME": "production",
                "CATALOG_PROD_DEPLOYMENT_NAME": "production",
            },
            "prod",
            "prod",
        ),
        (
            {
                "DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod",
                "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1",
                "DAGSTER_CLOUD_GIT_BRANCH": "jane/new-feature",
            },
            "branch",
            "branches/jane-new-feature-",
        ),
    ],
)
def test_resolution(environ, kind, area):
    deployment = resolve_deployment({**STORAGE, **environ})
    assert deployment.kind == kind
    if kind == "branch":
        assert deployment.area.startswith(area) and len(deployment.area) == len(area) + 10
    else:
        assert deployment.area == area
    assert deployment.storage_url == "s3://bucket/catalog"


def test_branch_reads_defer_to_production_and_prod_reads_only_itself():
    branch = resolve_deployment({"CATALOG_BRANCH": "x"})
    assert branch.read_areas == (f"branches/{branch_slug('x')}", "prod")
    assert resolve_deployment({"CATALOG_DEPLOYMENT": "prod"}).read_areas == ("prod",)
    assert resolve_deployment({}).read_areas == ("local",)


@pytest.mark.parametrize(
    "environ",
    [
        {"CATALOG_DEPLOYMENT": "prod", "CATALOG_BRANCH": "x"},
        {
            "CATALOG_DEPLOYMENT": "prod",
            "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1",
            "DAGSTER_CLOUD_GIT_BRANCH": "x",
        },
        {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1"},
        {"CATALOG_DEPLOYMENT": "branch"},
        {"CATALOG_DEPLOYMENT": "staging"},
    ],
)
def test_contradictions_are_refused(environ):
    with pytest.raises(DeploymentError):
        resolve_deployment(environ)


def test_production_never_resolves_to_branch_or_local_storage():
    for extra in ({}, {"DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod"}):
        deployment = resolve_deployment({**STORAGE, "CATALOG_DEPLOYMENT": "prod", **extra})
        assert deployment.area == "prod" and deployment.read_areas == ("prod",)


@pytest.mark.parametrize(
    ("branch", "readable"),
    [
        ("feature/Churn v2", "feature-churn-v2"),
        ("JIRA-123_fix", "jira-123-fix"),
        ("a//b", "a-b"),
        ("release/2026.11", "release-2026-11"),
        ("x" * 300, "x" * 40),
    ],
)
def test_branch_slugs_are_readable_and_end_in_a_hash_of_the_exact_name(branch, readable):
    slug = branch_slug(branch)
    assert slug.startswith(readable + "-") and len(slug) == len(readable) + 11
    assert slug == branch_slug(branch)


def test_distinct_branches_never_share_an_area():
    names = ["Feature/X", "feature-x", "feature_x", "feature/x", "FEATURE-X"]
    long_a, long_b = "a" * 120 + "-one", "a" * 120 + "-two"
    slugs = [branch_slug(n) for n in [*names, long_a, long_b]]
    assert len(set(slugs)) == len(slugs)
    assert len({s.rsplit("-", 1)[0] for s in slugs[:5]}) == 1  # same readable part, kept apart


def test_an_empty_branch_variable_is_refused_not_run_as_local():
    for value in ("", "   "):
        with pytest.raises(DeploymentError, match="CATALOG_BRANCH is set but empty"):
            resolve_deployment({"CATALOG_BRANCH": value})
        with pytest.raises(DeploymentError):
            Settings.from_env({"CATALOG_BRANCH": value})


@pytest.mark.parametrize("branch", ["", "  ", "..", "../prod", "a/../../prod", "/etc", "///", "--"])
def test_unsafe_branch_names_are_refused(branch):
    with pytest.raises(DeploymentError):
        branch_slug(branch)


def test_resolution_reads_only_the_given_environment(monkeypatch):
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    assert resolve_deployment({}).kind == "local"
