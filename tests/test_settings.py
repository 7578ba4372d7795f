"""One resolver decides local / branch / prod from the environment it is given."""

import pytest

from catalog_assets.errors import DeploymentError
from catalog_assets.settings import branch_slug, resolve_deployment

STORAGE = {"CATALOG_STORAGE_URL": "s3://bucket/catalog"}


@pytest.mark.parametrize(
    ("environ", "kind", "prefix"),
    [
        ({}, "local", "local"),
        ({"CATALOG_DEPLOYMENT": "prod"}, "prod", "prod"),
        ({"CATALOG_DEPLOYMENT": "local"}, "local", "local"),
        ({"CATALOG_BRANCH": "feature/Churn v2"}, "branch", "branches/feature-churn-v2"),
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
            "branches/jane-new-feature",
        ),
    ],
)
def test_resolution(environ, kind, prefix):
    deployment = resolve_deployment({**STORAGE, **environ})
    assert (deployment.kind, deployment.prefix) == (kind, prefix)
    assert deployment.storage_url == "s3://bucket/catalog"


def test_branch_reads_defer_to_production_and_prod_reads_only_itself():
    assert resolve_deployment({"CATALOG_BRANCH": "x"}).read_prefixes == ("branches/x", "prod")
    assert resolve_deployment({"CATALOG_DEPLOYMENT": "prod"}).read_prefixes == ("prod",)
    assert resolve_deployment({}).read_prefixes == ("local",)


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
        assert deployment.prefix == "prod" and deployment.read_prefixes == ("prod",)


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("feature/Churn v2", "feature-churn-v2"),
        ("JIRA-123_fix", "jira-123-fix"),
        ("a//b", "a-b"),
        ("release/2026.11", "release-2026-11"),
    ],
)
def test_branch_slugs(branch, slug):
    assert branch_slug(branch) == slug


@pytest.mark.parametrize("branch", ["", "  ", "..", "../prod", "a/../../prod", "/etc", "///", "--"])
def test_unsafe_branch_names_are_refused(branch):
    with pytest.raises(DeploymentError):
        branch_slug(branch)


def test_resolution_reads_only_the_given_environment(monkeypatch):
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    assert resolve_deployment({}).kind == "local"
