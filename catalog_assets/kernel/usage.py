"""The terms, applied in the kernel: the rows and columns ``catalog.load`` hands over, and the
columns ``catalog.output`` refuses. The step (or, in Jupyter, the catalog) decides what applies;
this module only applies it, the same way in a run and in Jupyter. No Dagster imports."""

from __future__ import annotations

from typing import Any

from catalog_assets.errors import NotebookAPIError
from catalog_assets.kernel.protocol import UsageSpec


def _frame_columns(value: Any) -> list[str] | None:
    """The column and index names of a DataFrame or Series; None for anything else."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return [str(c) for c in value.columns] + [str(n) for n in value.index.names if n]
    if isinstance(value, pd.Series):
        return [str(n) for n in (value.name, *value.index.names) if n is not None]
    return None


def restrict(value: Any, usage: UsageSpec, name: str, source: bool) -> Any:
    """``value`` with only the rows of the allowed tenants and without the dropped columns.

    Raises:
        NotebookAPIError: a source lacks the tenant column its terms name.
    """
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        return value
    column = usage.tenant_column
    if column is not None and usage.tenants is not None:
        if column in value.columns:
            value = value[value[column].astype(str).isin(usage.tenants)]
        elif source:
            raise NotebookAPIError(
                f"catalog.load({name!r}): the source has no column {column!r}, which its terms "
                "name as the tenant column (sources.yaml); nothing is handed over"
            )
    dropped = [c for c in usage.drop if c in value.columns]
    if dropped:
        value = value.drop(columns=dropped)
    return value


def stack(parts: list[tuple[str, Any]], name: str) -> Any:
    """The partitions of a per-tenant upstream, as one table (tenant order kept)."""
    import pandas as pd

    if not parts:
        return pd.DataFrame()
    frames = [value for _, value in parts]
    if not all(isinstance(f, pd.DataFrame) for f in frames):
        raise NotebookAPIError(
            f"catalog.load({name!r}): a pooled entry reads every tenant's partition of "
            f"{name}, which only works for tables; {name} hands back something else"
        )
    return pd.concat(frames, ignore_index=True)


def refuse_output(value: Any, forbidden: dict[str, str], entry: str) -> None:
    """Refuse a product holding a column the terms keep out of it.

    Raises:
        NotebookAPIError: naming each such column and what to do.
    """
    if not forbidden:
        return
    columns = _frame_columns(value)
    if columns is None:
        return
    found = [forbidden[c] for c in dict.fromkeys(columns) if c in forbidden]
    if found:
        raise NotebookAPIError(
            f"catalog.output: {entry}: refused by the data-usage terms: " + "; ".join(found)
        )


def refuse_path(rule: UsageSpec, name: str) -> None:
    """Refuse ``catalog.path`` on a source the terms restrict for this notebook: a raw file
    cannot be filtered to the allowed rows and columns.

    Raises:
        NotebookAPIError: saying what is restricted and to use ``catalog.load``.
    """
    limits = []
    if rule.tenants is not None and rule.tenant_column is not None:
        limits.append(f"only the rows of {', '.join(rule.tenants) or 'no tenant'}")
    if rule.drop:
        limits.append(f"none of the personal columns {', '.join(rule.drop)}")
    if limits:
        raise NotebookAPIError(
            f"catalog.path({name!r}): the data-usage terms let this notebook see "
            f"{' and '.join(limits)} of {name}, which a raw file cannot enforce; use "
            f"catalog.load({name!r})"
        )
