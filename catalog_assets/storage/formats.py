"""How a product becomes bytes: DataFrames as parquet, scikit-learn models as skops, else pickle.

No Dagster imports: the notebook kernel writes products with these functions.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

from catalog_assets.errors import StorageError

EXTENSIONS = {"parquet": "parquet", "skops": "skops", "pickle": "pkl", "csv": "csv"}
FORMAT_OF_EXTENSION = {ext: fmt for fmt, ext in EXTENSIONS.items()}

# Module roots whose types a stored model may contain. skops refuses anything else, so a
# model file cannot run arbitrary code when it is loaded (unlike pickle).
TRUSTED_MODEL_MODULES = ("sklearn", "numpy", "scipy", "builtins", "collections")


class UntrustedModelError(StorageError):
    """A model file holds types outside the trusted libraries."""


def format_for(value: Any) -> str:
    """The storage format for a product, chosen by its type."""
    if _is_dataframe(value):
        return "parquet"
    if _is_sklearn_estimator(value):
        return "skops"
    return "pickle"


def dump(value: Any, fmt: str, path: Path) -> None:
    """Write ``value`` to ``path`` in ``fmt``."""
    if fmt == "parquet":
        value.to_parquet(path, engine="pyarrow", compression="zstd")
    elif fmt == "skops":
        import skops.io

        skops.io.dump(value, path)
    elif fmt == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        raise ValueError(f"cannot write format {fmt!r}")


def load(path: Path, fmt: str) -> Any:
    """Read a value written by ``dump`` (or a source file in parquet/csv)."""
    if fmt == "parquet":
        import pandas as pd

        return pd.read_parquet(path, engine="pyarrow")
    if fmt == "csv":
        import pandas as pd

        return pd.read_csv(path)
    if fmt == "skops":
        import skops.io

        untrusted = skops.io.get_untrusted_types(file=path)
        refused = [t for t in untrusted if t.split(".")[0] not in TRUSTED_MODEL_MODULES]
        if refused:
            raise UntrustedModelError(
                f"{path}: the model file holds types outside {', '.join(TRUSTED_MODEL_MODULES)}: "
                f"{', '.join(refused)}; refusing to load it"
            )
        return skops.io.load(path, trusted=untrusted)
    if fmt == "pickle":
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own storage, written by dump()
    raise ValueError(f"cannot read format {fmt!r}")


def describe(value: Any) -> dict[str, Any]:
    """Plain-JSON facts about a product, recorded as materialization metadata."""
    if _is_dataframe(value):
        return {
            "row_count": int(len(value)),
            "columns": [[str(name), str(dtype)] for name, dtype in value.dtypes.items()],
        }
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _is_sklearn_estimator(value: Any) -> bool:
    if not type(value).__module__.startswith("sklearn") and "sklearn" not in sys.modules:
        return False
    from sklearn.base import BaseEstimator

    return isinstance(value, BaseEstimator)
