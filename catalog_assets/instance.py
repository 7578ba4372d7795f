"""One Dagster instance per deployment: ``.catalog/dagster/<area>/`` under the project.

The local deployment's instance is the one the project's ``dagster.yaml`` describes; every other
area gets its own generated from it, so the UI started as production never shows a branch's
materializations as the asset's latest value. ``instance_problem`` refuses to run a deployment on
another deployment's instance. No Dagster imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from catalog_assets.settings import Settings

LOCAL_PREFIX = ".catalog/dagster/local"


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
