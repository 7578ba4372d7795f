"""Compare a branch's version of a table with production's: schema, rows by key, column values.

Vectorised pandas/NumPy throughout (hash lookups for key alignment, no merge of whole frames), so
comparing two 1M-row frames costs about what reading them did (BENCHMARKS.md, P8). No Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SAMPLE_ROWS = 10


@dataclass(frozen=True)
class ColumnStats:
    dtype: str
    null_rate: float
    distinct: int | None
    mean: float | None = None
    q25: float | None = None
    q50: float | None = None
    q75: float | None = None

    def differs_from(self, other: ColumnStats) -> bool:
        def close(a: float | None, b: float | None) -> bool:
            return (a is None and b is None) or (
                a is not None
                and b is not None
                and bool(np.isclose(a, b, rtol=1e-9, equal_nan=True))
            )

        return not (
            self.dtype == other.dtype
            and close(self.null_rate, other.null_rate)
            and self.distinct == other.distinct
            and close(self.mean, other.mean)
            and close(self.q25, other.q25)
            and close(self.q50, other.q50)
            and close(self.q75, other.q75)
        )


@dataclass
class FrameDiff:
    rows_base: int
    rows_head: int
    added_columns: list[tuple[str, str]] = field(default_factory=list)
    removed_columns: list[tuple[str, str]] = field(default_factory=list)
    retyped_columns: list[tuple[str, str, str]] = field(default_factory=list)
    key: list[str] | None = None
    #: Why rows were not compared by key (no key, key column missing, key not unique).
    key_note: str | None = None
    rows_added: int | None = None
    rows_removed: int | None = None
    rows_changed: int | None = None
    rows_same: int | None = None
    #: Share of matched rows whose value is equal, per common column.
    match_rates: dict[str, float] = field(default_factory=dict)
    changed_sample: pd.DataFrame | None = None
    stats: dict[str, tuple[ColumnStats | None, ColumnStats | None]] = field(default_factory=dict)

    @property
    def changed_columns(self) -> list[str]:
        """Columns added, removed, retyped, or whose values or statistics differ."""
        names = [c for c, _ in self.added_columns] + [c for c, _ in self.removed_columns]
        names += [c for c, _, _ in self.retyped_columns]
        for name, rate in self.match_rates.items():
            if rate < 1.0 and name not in names:
                names.append(name)
        for name, (base, head) in self.stats.items():
            if base and head and base.differs_from(head) and name not in names:
                names.append(name)
        return names

    @property
    def identical(self) -> bool:
        return (
            not self.changed_columns
            and self.rows_base == self.rows_head
            and not self.rows_added
            and not self.rows_removed
            and not self.rows_changed
        )


def column_stats(series: pd.Series) -> ColumnStats:
    values = series
    null_rate = float(values.isna().mean()) if len(values) else 0.0
    # Distinct counts of continuous values say little and cost a hash of every value.
    distinct = None if pd.api.types.is_float_dtype(values) else int(values.nunique(dropna=True))
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numeric = values.dropna().to_numpy(dtype="float64", na_value=np.nan)
        if len(numeric):
            q25, q50, q75 = (float(q) for q in np.quantile(numeric, [0.25, 0.5, 0.75]))
            return ColumnStats(
                str(values.dtype), null_rate, distinct, float(numeric.mean()), q25, q50, q75
            )
    return ColumnStats(str(values.dtype), null_rate, distinct)


def _keys(frame: pd.DataFrame, key: list[str]) -> pd.Index:
    if len(key) == 1:
        return pd.Index(frame[key[0]])
    return pd.MultiIndex.from_frame(frame[key])


def _take(series: pd.Series, rows: np.ndarray) -> Any:
    """The values at ``rows``: a NumPy array for NumPy dtypes, else the extension array's take."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind != "O":
        return series.to_numpy()[rows]
    return series.array.take(rows)


def _equal(a: Any, b: Any) -> np.ndarray:
    """Element-wise equality, nulls equal to nulls."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype:
        same = a == b
        if a.dtype.kind in "fcmM":
            both_null = pd.isna(a) & pd.isna(b)
            return same | both_null
        return same
    try:
        compared = pd.array(a) == pd.array(b)
        same = np.asarray(pd.array(compared).to_numpy(dtype=bool, na_value=False), dtype=bool)
    except (TypeError, ValueError):
        same = np.array([x == y for x, y in zip(list(a), list(b), strict=True)], dtype=bool)
    return same | (np.asarray(pd.isna(a)) & np.asarray(pd.isna(b)))


def diff_frames(base: pd.DataFrame, head: pd.DataFrame, key: list[str] | None) -> FrameDiff:
    """How ``head`` (the branch's table) differs from ``base`` (production's).

    With a usable key, rows are aligned by key and compared value by value; column statistics are
    then computed for the columns that differ (the others are equal on every matched row). Without
    one, statistics of every column are the comparison.
    """
    result = FrameDiff(len(base), len(head))
    base_types = {str(c): str(t) for c, t in base.dtypes.items()}
    head_types = {str(c): str(t) for c, t in head.dtypes.items()}
    result.added_columns = [(c, t) for c, t in head_types.items() if c not in base_types]
    result.removed_columns = [(c, t) for c, t in base_types.items() if c not in head_types]
    result.retyped_columns = [
        (c, base_types[c], t)
        for c, t in head_types.items()
        if c in base_types and base_types[c] != t
    ]
    common = [c for c in head.columns if c in base.columns]
    result.key = key
    if not key:
        result.key_note = "no key: declare `key:` (or a `unique` check) to compare rows"
    elif missing := [k for k in key if k not in base.columns or k not in head.columns]:
        result.key_note = f"key column(s) {', '.join(missing)} missing on one side"
    else:
        base_keys, head_keys = _keys(base, key), _keys(head, key)
        if not base_keys.is_unique or not head_keys.is_unique:
            result.key_note = f"key {', '.join(key)} is not unique on both sides"
        else:
            _compare_rows(result, base, head, key, common, base_keys, head_keys)
    if result.key_note:
        described = [str(c) for c in dict.fromkeys([*base.columns, *head.columns])]
    else:
        described = result.changed_columns
    for name in described:
        result.stats[name] = (
            column_stats(base[name]) if name in base.columns else None,
            column_stats(head[name]) if name in head.columns else None,
        )
    return result


def _compare_rows(
    result: FrameDiff,
    base: pd.DataFrame,
    head: pd.DataFrame,
    key: list[str],
    common: list[Any],
    base_keys: pd.Index,
    head_keys: pd.Index,
) -> None:
    positions = base_keys.get_indexer(head_keys)
    matched = positions >= 0
    result.rows_added = int((~matched).sum())
    result.rows_removed = int(len(base) - matched.sum())
    base_rows = positions[matched]
    head_rows = np.flatnonzero(matched)
    changed = np.zeros(len(head_rows), dtype=bool)
    compared = [c for c in common if c not in key]
    for name in compared:
        equal = _equal(_take(base[name], base_rows), _take(head[name], head_rows))
        result.match_rates[str(name)] = float(equal.mean()) if len(equal) else 1.0
        changed |= ~equal
    result.rows_changed = int(changed.sum())
    result.rows_same = int(len(head_rows) - result.rows_changed)
    if result.rows_changed:
        columns = [c for c in compared if result.match_rates[str(c)] < 1.0][:6]
        picked = np.flatnonzero(changed)[:SAMPLE_ROWS]
        sample = head[key].iloc[head_rows[picked]].reset_index(drop=True)
        for name in columns:
            sample[f"{name} (production)"] = base[name].iloc[base_rows[picked]].to_numpy()
            sample[f"{name} (branch)"] = head[name].iloc[head_rows[picked]].to_numpy()
        result.changed_sample = sample


def key_of(metadata: Any) -> list[str] | None:
    """An entry's key: its declared ``key:``, else the columns of its first ``unique`` check."""
    if getattr(metadata, "key", None):
        return list(metadata.key)
    for check in getattr(metadata, "checks", []):
        if check.type == "unique":
            return list(check.unique)
    return None
