"""Reading provider files (sources) into DataFrames."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_source_file(path: Path, fmt: str, options: dict[str, Any] | None = None) -> Any:
    """A source file as a DataFrame: parquet or CSV."""
    import pandas as pd

    if fmt == "parquet":
        return pd.read_parquet(path, engine="pyarrow")
    if fmt == "csv":
        return pd.read_csv(path, **(options or {}))
    raise ValueError(f"cannot read source format {fmt!r}")
