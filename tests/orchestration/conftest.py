"""Fixtures of the production refresh tests: see tests/production_repo.py."""

from tests.production_repo import production_repo, repo  # noqa: F401 - pytest fixtures
