"""Evaluate declared checks against a product and its metrics.

Checks run where the product already is in memory: inside the notebook kernel, at hand-back. That
way a check never reads the stored product back. No Dagster imports; the factory turns each
``Outcome`` into a Dagster ``AssetCheckResult``.
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog_assets.catalog import CheckSpec

_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def describe(check: CheckSpec) -> str:
    """What a check asserts, in words, for the UI."""
    if check.description:
        return check.description
    if check.not_null is not None:
        return f"No nulls in {', '.join(check.not_null)}"
    if check.unique is not None:
        return f"Rows are unique on {', '.join(check.unique)}"
    if check.accepted_values is not None:
        values = ", ".join(map(str, check.accepted_values.values))
        return f"{check.accepted_values.column} takes only: {values}"
    if check.row_count is not None:
        low = check.row_count.min if check.row_count.min is not None else 0
        high = check.row_count.max if check.row_count.max is not None else "∞"
        return f"Row count within [{low}, {high}]"
    return f"Model metric {check.metric}"


def evaluate(check: CheckSpec, value: Any, metrics: dict[str, float]) -> Outcome:
    """Evaluate one check; never raises for a product that simply fails it."""
    if check.metric is not None:
        return _metric(check, metrics)
    if not hasattr(value, "columns") or not hasattr(value, "__len__"):
        return Outcome(check.name, False, f"product is a {type(value).__name__}, not a table")
    if check.row_count is not None:
        rows = len(value)
        low, high = check.row_count.min, check.row_count.max
        passed = (low is None or rows >= low) and (high is None or rows <= high)
        return Outcome(check.name, passed, f"{rows} rows", {"row_count": rows})

    columns = (
        check.not_null or check.unique or [check.accepted_values.column]  # type: ignore[union-attr]
    )
    missing = [c for c in columns if c not in value.columns]
    if missing:
        return Outcome(check.name, False, f"missing column(s): {', '.join(missing)}")
    if check.not_null is not None:
        nulls = {c: int(value[c].isna().sum()) for c in columns}
        bad = {c: n for c, n in nulls.items() if n}
        message = ", ".join(f"{c}: {n} nulls" for c, n in bad.items()) or "no nulls"
        return Outcome(check.name, not bad, message, {"null_counts": nulls})
    if check.unique is not None:
        duplicated = int(value.duplicated(subset=columns, keep=False).sum())
        message = f"{duplicated} rows share a key" if duplicated else "all keys unique"
        return Outcome(check.name, duplicated == 0, message, {"duplicate_rows": duplicated})
    accepted = check.accepted_values
    assert accepted is not None
    series = value[accepted.column].dropna()
    unexpected = series[~series.isin(accepted.values)]
    examples = sorted(map(str, unexpected.unique()[:10]))
    message = (
        f"{len(unexpected)} rows outside the accepted values, e.g. {', '.join(examples)}"
        if len(unexpected)
        else "all values accepted"
    )
    return Outcome(
        check.name,
        unexpected.empty,
        message,
        {"unexpected_rows": len(unexpected), "unexpected_examples": examples},
    )


def _metric(check: CheckSpec, metrics: dict[str, float]) -> Outcome:
    metric, op, threshold = check.metric_threshold
    if metric not in metrics:
        return Outcome(
            check.name,
            False,
            f"the notebook reported no metric {metric!r}; pass it as "
            f"catalog.output(model, metrics={{{metric!r}: ...}})",
        )
    actual = float(metrics[metric])
    passed = _OPERATORS[op](actual, threshold)
    return Outcome(
        check.name,
        passed,
        f"{metric} = {actual:.4g} (threshold {op} {threshold:g})",
        {metric: actual, "threshold": threshold},
    )
