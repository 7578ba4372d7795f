"""One Dagster instance per deployment: ``.catalog/dagster/<area>/`` under the project.

The local deployment's instance is the one the project's ``dagster.yaml`` describes; every other
area gets its own generated from it, so the UI started as production never shows a branch's
materializations as the asset's latest value. ``instance_problem`` refuses to run a deployment on
another deployment's instance, ``checkout_problem`` production on a checkout of another branch.
No Dagster imports.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import yaml

from catalog_assets.settings import Settings

LOCAL_PREFIX = ".catalog/dagster/local"


def materialize_command(selection: str, settings: Settings) -> str:
    """The shell command (run from the project directory) that materializes ``selection`` in
    this deployment, on this deployment's instance."""
    deployment = settings.deployment
    select = {"local": "", "prod": "CATALOG_DEPLOYMENT=prod "}.get(
        deployment.kind, f"CATALOG_BRANCH={shlex.quote(deployment.branch or '')} "
    )
    return f"{select}.venv/bin/catalog materialize {shlex.quote(selection)}"


def instances_root(settings: Settings) -> Path:
    return settings.home / ".catalog" / "dagster"


def instance_dir(settings: Settings) -> Path:
    """The DAGSTER_HOME of this deployment's instance."""
    return instances_root(settings) / settings.deployment.area


def prepare_instance(settings: Settings) -> Path:
    """Create this deployment's instance directory and its ``dagster.yaml``; returns it."""
    target = instance_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    template = settings.home / "dagster.yaml"
    config: dict[str, Any] = {"telemetry": {"enabled": False}}
    if template.exists():
        config = yaml.safe_load(template.read_text(encoding="utf-8")) or config
    config = _rebase(config, target)
    header = (
        f"# The Dagster instance of the {settings.deployment.label} deployment, generated from "
        f"{template} by `catalog instance`.\n"
    )
    (target / "dagster.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    return target


def _rebase(value: Any, target: Path) -> Any:
    if isinstance(value, dict):
        return {k: _rebase(v, target) for k, v in value.items()}
    if isinstance(value, str) and value.startswith(LOCAL_PREFIX):
        return str(target) + value[len(LOCAL_PREFIX) :]
    return value


def instance_problem(settings: Settings, dagster_home: str | None) -> str | None:
    """Why this deployment must not use the instance at ``dagster_home``, or None."""
    if not dagster_home:
        return None
    home = Path(dagster_home).resolve()
    root = instances_root(settings).resolve()
    if home == settings.home.resolve():
        area = "local"
    elif home.is_relative_to(root) and home != root:
        area = home.relative_to(root).as_posix()
    else:
        return None
    if area == settings.deployment.area:
        return None
    return (
        f"DAGSTER_HOME={home} is the Dagster instance of the {area} area, but this process is the "
        f"{settings.deployment.label} deployment ({settings.deployment.area}); start it with "
        "`catalog dev`, or set DAGSTER_HOME=$(catalog instance)"
    )


def checkout_problem(settings: Settings) -> str | None:
    """Why production must not run the code of this checkout, or None.

    Production runs what was merged into the production branch. A checkout of another branch
    would write that branch's code into production storage, where its products become what every
    downstream and the refresh sensor read. A detached HEAD (how CI checks out a merge commit), a
    folder outside git and a machine without git are left alone.
    """
    if settings.deployment.kind != "prod":
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(settings.catalog_dir), "symbolic-ref", "--quiet", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    branch = done.stdout.strip()
    if done.returncode != 0 or not branch or branch == settings.prod_branch:
        return None
    return (
        f"the prod deployment runs the production branch ({settings.prod_branch}), but "
        f"{settings.catalog_dir} is a checkout of {branch!r}; check out {settings.prod_branch} "
        f"(or preview the branch with `catalog preview {branch}`; CATALOG_PROD_BRANCH names "
        "another production branch)"
    )
