"""Cron expressions as Dagster schedules accept them."""

from __future__ import annotations

from croniter import croniter


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a schedule Dagster runs, or None when it is fine.

    Dagster takes five-field cron strings only (no seconds field) and refuses dates that never
    occur, such as 30 February; we say so at validation time instead of at definition load.
    """
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"{expression!r} has {len(fields)} fields; a schedule is a five-field cron "
            "expression: minute hour day-of-month month day-of-week (e.g. '0 6 * * *')"
        )
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    expanded = croniter.expand(expression)[0]
    if expanded[3] == [2] and len(expanded[2]) == 1 and expanded[2][0] in (30, 31):
        return f"{expression!r} never fires: February has no day {expanded[2][0]}"
    return None
