"""Schedules declared by catalog entries."""

from __future__ import annotations

import dagster as dg

from catalog_assets.catalog.discovery import Catalog
from catalog_assets.settings import Deployment


def entry_schedules(catalog: Catalog, deployment: Deployment) -> list[dg.ScheduleDefinition]:
    """One schedule per entry with a ``schedule``; running by default in production only.

    A laptop or a scientist's branch deployment shows the schedules but never starts them on its
    own, so a branch cannot spend compute (or write) on a timer nobody asked for.
    """
    status = (
        dg.DefaultScheduleStatus.RUNNING
        if deployment.kind == "prod"
        else dg.DefaultScheduleStatus.STOPPED
    )
    return [
        dg.ScheduleDefinition(
            name=f"{entry.name}_schedule",
            cron_schedule=entry.metadata.schedule,
            target=dg.AssetSelection.assets(entry.name),
            description=f"Refresh {entry.name} on '{entry.metadata.schedule}' (from "
            f"{entry.metadata_path.name})",
            default_status=status,
        )
        for entry in catalog.entries.values()
        if entry.metadata.schedule
    ]
