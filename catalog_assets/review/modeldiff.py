"""Compare a branch's model with production's: metric deltas, and how often they agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_ROWS = 50_000


@dataclass
class ModelDiff:
    #: metric -> (production, branch); None where one side did not report it.
    metrics: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    #: Share of rows on which both models predict the same class (classifiers), or the
    #: correlation of their predictions (regressors); None when they could not score the same rows.
    agreement: float | None = None
    agreement_kind: str | None = None
    scored_rows: int = 0
    scored_on: str | None = None
    note: str | None = None


def metric_deltas(
    base: dict[str, float], head: dict[str, float]
) -> dict[str, tuple[float | None, float | None]]:
    return {name: (base.get(name), head.get(name)) for name in sorted(set(base) | set(head))}


def diff_models(
    base_model: Any,
    head_model: Any,
    base_metrics: dict[str, float],
    head_metrics: dict[str, float],
    rows: Any = None,
    rows_name: str | None = None,
) -> ModelDiff:
    """Metric deltas; with ``rows`` (a table both models can score), their agreement."""
    result = ModelDiff(metrics=metric_deltas(base_metrics, head_metrics))
    if rows is None:
        result.note = "no table to score both models on"
        return result
    features = [getattr(m, "feature_names_in_", None) for m in (base_model, head_model)]
    if any(f is None for f in features):
        result.note = "a model does not name its features (fit it on a DataFrame to compare them)"
        return result
    needed = sorted(set(features[0]) | set(features[1]))
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        result.note = f"{rows_name} lacks the features {', '.join(missing[:5])}"
        return result
    sample = rows.dropna(subset=needed).head(MAX_ROWS)
    try:
        a = np.asarray(base_model.predict(sample[list(features[0])]))
        b = np.asarray(head_model.predict(sample[list(features[1])]))
    except Exception as error:  # a model that cannot score these rows says why in the report
        result.note = f"cannot score {rows_name}: {type(error).__name__}: {error}"
        return result
    result.scored_rows, result.scored_on = len(sample), rows_name
    if hasattr(base_model, "classes_") or a.dtype.kind in "bOU":
        result.agreement, result.agreement_kind = float((a == b).mean()), "same prediction"
    else:
        result.agreement = float(np.corrcoef(a.astype(float), b.astype(float))[0, 1])
        result.agreement_kind = "correlation of predictions"
    return result
