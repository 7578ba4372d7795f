"""How a product becomes bytes, and back: one class per storage format.

Every format is safe to load and faithful: what a notebook hands back is what a downstream notebook
loads, or ``catalog.output`` refuses it with the reason and the fix. Formats are chosen by the
product's type, in this order:

=========================  =========  ===================================================
product                    format     loaded back as
=========================  =========  ===================================================
pandas DataFrame           parquet    an equal DataFrame (string column labels only)
pandas Series              parquet    an equal Series (name and index kept)
scikit-learn estimator     skops      the estimator; only scikit-learn/NumPy/SciPy *types*
                                      and the entry's declared ``trusted_types`` load
dict / list of scalars     json       the same dict or list
NumPy array                npy        the same array (no pickle)
matplotlib figure          png        an image (``IPython.display.Image``), shown in the UI
anything else              pickle     only when the entry declares ``format: pickle``
=========================  =========  ===================================================

No Dagster imports: the notebook kernel writes products with these classes.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from catalog_assets.errors import CatalogAssetsError, StorageError

#: Module roots whose *classes* a model file may hold without being declared.
TRUSTED_MODEL_MODULES = ("sklearn", "numpy", "scipy")
_SERIES_MARKER = b"catalog_assets.series"
_OBJECT_KINDS_KEPT = {"string", "bytes", "empty", "date", "time", "decimal", "boolean"}


class ProductRefused(CatalogAssetsError, ValueError):
    """``catalog.output`` cannot store this value faithfully and safely; the message says why."""


class UntrustedModelError(StorageError):
    """A model file holds types outside the trusted libraries and the declared trusted types."""


@dataclass(frozen=True)
class LoadPolicy:
    """What a load may construct, from the producing entry's declaration in the catalog."""

    trusted_types: tuple[str, ...] = ()
    allow_pickle: bool = False


class Format:
    """One storage format: which values it takes, how it writes and reads them, what to show."""

    name: ClassVar[str]
    extension: ClassVar[str]
    #: What it stores, in words, for messages listing the supported types.
    stores: ClassVar[str]

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def problem(self, value: Any) -> str | None:
        """Why ``value`` would not come back as it is, or None."""
        return None

    def dump(self, value: Any, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        raise NotImplementedError

    def check_file(self, path: Path, policy: LoadPolicy) -> None:
        """Refuse a written file a load would refuse (run where the product is handed back)."""

    def describe(self, value: Any) -> dict[str, Any]:
        """Plain-JSON facts about the value, recorded with the product."""
        return {"type": _type_name(value)}


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _module_loaded(name: str) -> Any:
    return sys.modules.get(name)


def _label_problem(labels: Any, what: str) -> str | None:
    bad = [label for label in labels if not isinstance(label, str)]
    if bad:
        shown = ", ".join(f"{label!r} ({type(label).__name__})" for label in bad[:5])
        return (
            f"{what} must be strings to survive parquet, got {shown}; rename them "
            "(e.g. df.columns = df.columns.astype(str))"
        )
    return None


def _object_column_problem(name: str, series: Any) -> str | None:
    import pandas as pd

    if series.dtype != object:
        return None
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in _OBJECT_KINDS_KEPT:
        return None
    return (
        f"column {name!r} holds Python objects inferred as {kind!r}, which parquet would store "
        "as a different type; convert it (e.g. .astype(str), .astype('int64')) or declare "
        "format: pickle"
    )


class ParquetFrame(Format):
    name = "parquet"
    extension = "parquet"
    stores = "pandas DataFrame (parquet)"

    def accepts(self, value: Any) -> bool:
        pandas = _module_loaded("pandas")
        return pandas is not None and isinstance(value, pandas.DataFrame)

    def problem(self, value: Any) -> str | None:
        columns = list(value.columns)
        problem = _label_problem(columns, "column labels")
        if problem:
            return problem
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            return f"column labels must be unique, repeated: {', '.join(duplicates)}"
        names = [n for n in value.index.names if n is not None]
        if problem := _label_problem(names, "index names"):
            return problem
        for name in columns:
            if problem := _object_column_problem(name, value[name]):
                return problem
        return None

    def dump(self, value: Any, path: Path) -> None:
        value.to_parquet(path, engine="pyarrow", compression="zstd")

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        frame = table.to_pandas()
        if (table.schema.metadata or {}).get(_SERIES_MARKER):
            series = frame.iloc[:, 0]
            name = json.loads(table.schema.metadata[_SERIES_MARKER])["name"]
            return series.rename(name)
        return frame

    def describe(self, value: Any) -> dict[str, Any]:
        return {
            "type": _type_name(value),
            "row_count": int(len(value)),
            "columns": [[str(name), str(dtype)] for name, dtype in value.dtypes.items()],
        }


class ParquetSeries(ParquetFrame):
    """A Series as a one-column parquet file marked as a Series, so it loads back as one."""

    stores = "pandas Series (parquet)"

    def accepts(self, value: Any) -> bool:
        pandas = _module_loaded("pandas")
        return pandas is not None and isinstance(value, pandas.Series)

    def problem(self, value: Any) -> str | None:
        if value.name is not None and not isinstance(value.name, str):
            return (
                f"the Series name must be a string or None to survive parquet, got {value.name!r}"
            )
        return super().problem(value.to_frame(name="value"))

    def dump(self, value: Any, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(value.to_frame(name="value"))
        metadata = {
            **(table.schema.metadata or {}),
            _SERIES_MARKER: json.dumps({"name": value.name}),
        }
        pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")

    def describe(self, value: Any) -> dict[str, Any]:
        return {
            "type": _type_name(value),
            "row_count": int(len(value)),
            "columns": [[str(value.name), str(value.dtype)]],
        }


#: How skops rebuilds a value: these loaders restore data and instances without calling anything
#: named in the file (an instance is made with ``cls.__new__`` and given its state). Loaders that
#: call what the file names (functions, methods, constructors with arguments) are never allowed
#: for a type skops does not trust by default: ``numpy.memmap(path, mode="w+")`` is a class of a
#: trusted library and would overwrite a file.
SAFE_LOADERS = frozenset(
    {
        "ObjectNode",
        "TreeNode",
        "SparseMatrixNode",
        "NdArrayNode",
        "MaskedArrayNode",
        "DTypeNode",
        "RandomStateNode",
        "RandomGeneratorNode",
        "TypeNode",
    }
)


#: Modules of the trusted libraries that do something when imported (command-line entry points,
#: build and test tooling); a model never legitimately holds their types.
_TOOLING_MODULES = frozenset(
    {"f2py", "f2py2e", "distutils", "testing", "tests", "conftest", "setup"}
)


def skops_loaders(path: Path) -> dict[str, set[str]]:
    """Every type a skops file names, with the loaders it names it with (read, never imported)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: dict[str, set[str]] = {}
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                name = f"{node['__module__']}.{node['__class__']}"
                found.setdefault(name, set()).add(str(node.get("__loader__")))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def untrusted_refusals(
    names: list[str], trusted_types: tuple[str, ...], loaders: dict[str, set[str]] | None = None
) -> list[str]:
    """The names skops does not trust by default that we refuse too.

    Allowed are only types of scikit-learn, NumPy and SciPy, or classes the producing entry
    declared trusted, and only when the file restores them with a loader that calls nothing
    (``SAFE_LOADERS``). Functions (``builtins.exec``, ``numpy.load``) are refused whatever their
    module. Decided from the names alone: nothing the file names is imported to decide.
    """
    loaders = loaders or {}
    refused = []
    for name in names:
        segments = name.split(".")
        if segments[0] not in TRUSTED_MODEL_MODULES and name not in trusted_types:
            refused.append(name)
        elif not loaders.get(name, {"unknown"}) <= SAFE_LOADERS:
            refused.append(name)
        elif name not in trusted_types and any(
            s.startswith("__") or s in _TOOLING_MODULES for s in segments[:-1]
        ):
            refused.append(name)  # importing it to restore the type would run a tool
    return refused


class Skops(Format):
    name = "skops"
    extension = "skops"
    stores = "scikit-learn estimator (skops)"

    def accepts(self, value: Any) -> bool:
        if "sklearn" not in sys.modules and not type(value).__module__.startswith("sklearn"):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(value, BaseEstimator)

    def dump(self, value: Any, path: Path) -> None:
        import skops.io

        from catalog_assets.storage.reproducible import canonical_skops

        path.write_bytes(canonical_skops(skops.io.dumps(value)))

    def _audit(self, path: Path, policy: LoadPolicy) -> list[str]:
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(file=path)
            loaders = skops_loaders(path)
        except Exception as error:
            raise UntrustedModelError(f"{path}: not a readable skops file: {error}") from error
        refused = untrusted_refusals(untrusted, policy.trusted_types, loaders)
        if refused:
            raise UntrustedModelError(
                f"the model holds types outside {', '.join(TRUSTED_MODEL_MODULES)} classes that "
                f"are not declared trusted: {', '.join(refused)}. A class defined in the notebook "
                "cannot be loaded by a downstream kernel: move it into an importable module of "
                "the repository and list it under trusted_types in the entry's YAML"
            )
        return untrusted

    def check_file(self, path: Path, policy: LoadPolicy) -> None:
        self._audit(path, policy)

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        import skops.io

        return skops.io.load(path, trusted=self._audit(path, policy))


def _json_problem(value: Any, where: str = "value") -> str | None:
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value!r}, which JSON cannot hold"
    if isinstance(value, list):
        for index, item in enumerate(value):
            if problem := _json_problem(item, f"{where}[{index}]"):
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has the key {key!r}; JSON keys are strings"
            if problem := _json_problem(item, f"{where}[{key!r}]"):
                return problem
        return None
    return (
        f"{where} is a {type(value).__name__}; JSON holds str, int, float, bool, None, lists and "
        "dicts (convert NumPy scalars with .item(), tuples with list())"
    )


class Json(Format):
    name = "json"
    extension = "json"
    stores = "dict or list of JSON scalars (json)"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict | list)

    def problem(self, value: Any) -> str | None:
        try:
            return _json_problem(value)
        except RecursionError:
            return "the value contains itself (or nests too deeply) for JSON"

    def dump(self, value: Any, path: Path) -> None:
        path.write_text(json.dumps(value, allow_nan=False, ensure_ascii=False), encoding="utf-8")

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    def describe(self, value: Any) -> dict[str, Any]:
        return {"type": _type_name(value), "length": len(value)}


class Npy(Format):
    name = "npy"
    extension = "npy"
    stores = "NumPy array (npy)"

    def accepts(self, value: Any) -> bool:
        numpy = _module_loaded("numpy")
        return numpy is not None and type(value) is numpy.ndarray

    def problem(self, value: Any) -> str | None:
        if value.dtype.hasobject:
            return "the array holds Python objects, which .npy stores only with pickle"
        return None

    def dump(self, value: Any, path: Path) -> None:
        import numpy as np

        with open(path, "wb") as handle:
            np.save(handle, value, allow_pickle=False)

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        import numpy as np

        return np.load(path, allow_pickle=False)

    def describe(self, value: Any) -> dict[str, Any]:
        return {"type": _type_name(value), "shape": list(value.shape), "dtype": str(value.dtype)}


def _figure(value: Any) -> Any:
    """The matplotlib Figure of a figure, an Axes or a seaborn grid; None for anything else."""
    if "matplotlib" not in sys.modules:
        return None
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        return value
    figure = getattr(value, "figure", None)
    return figure if isinstance(figure, Figure) else None


class Png(Format):
    name = "png"
    extension = "png"
    stores = "matplotlib figure, Axes or seaborn grid (png)"

    def accepts(self, value: Any) -> bool:
        return _figure(value) is not None

    def dump(self, value: Any, path: Path) -> None:
        _figure(value).savefig(path, format="png", bbox_inches="tight")

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        from IPython.display import Image

        return Image(data=path.read_bytes(), format="png")

    def describe(self, value: Any) -> dict[str, Any]:
        width, height = _figure(value).get_size_inches()
        return {"type": _type_name(value), "inches": [float(width), float(height)]}


class Pickle(Format):
    name = "pickle"
    extension = "pkl"
    stores = "any picklable value (pickle; declare format: pickle)"

    def accepts(self, value: Any) -> bool:
        return True

    def dump(self, value: Any, path: Path) -> None:
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path, policy: LoadPolicy) -> Any:
        if not policy.allow_pickle:
            raise UntrustedModelError(
                f"{path}: a pickle, but the entry that produced it does not declare format: "
                "pickle; refusing to unpickle it"
            )
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - declared by its entry, sha256-verified


#: In the order a product's type is matched; pickle only when declared.
AUTOMATIC: tuple[Format, ...] = (ParquetFrame(), ParquetSeries(), Skops(), Json(), Npy(), Png())
#: By name, for loading and declaring; a Series is stored as ``parquet`` too (the file says which).
FORMATS: dict[str, Format] = {f.name: f for f in reversed((*AUTOMATIC, Pickle()))}
DECLARABLE = ("auto", *FORMATS)


def by_name(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise StorageError(f"unknown storage format {name!r}") from None


def choose(value: Any, declared: str | None = None) -> Format:
    """The format to store ``value`` in; ``declared`` is the entry's ``format`` (or auto).

    Raises:
        ProductRefused: the value has no safe, faithful format, saying which types are supported.
    """
    if declared and declared != "auto":
        chosen = by_name(declared)
        if not chosen.accepts(value):
            raise ProductRefused(
                f"the entry declares format: {declared}, which stores a {chosen.stores}, not a "
                f"{_type_name(value)}"
            )
    else:
        chosen = next((f for f in AUTOMATIC if f.accepts(value)), None)
        if chosen is None:
            supported = "; ".join(f.stores for f in AUTOMATIC)
            raise ProductRefused(
                f"cannot store a {_type_name(value)}: supported are {supported}. To store it "
                "anyway, declare format: pickle in the entry's YAML (only entries that declare it "
                "may be unpickled downstream)"
            )
    if problem := chosen.problem(value):
        raise ProductRefused(f"cannot store this {chosen.stores} faithfully: {problem}")
    return chosen


def write(value: Any, fmt: Format, path: Path, policy: LoadPolicy) -> None:
    """Write ``value`` and refuse it now if a load would refuse it later."""
    try:
        fmt.dump(value, path)
    except (ProductRefused, UntrustedModelError):
        raise
    except Exception as error:
        raise ProductRefused(f"cannot store it as {fmt.name}: {error}") from error
    try:
        fmt.check_file(path, policy)
    except UntrustedModelError as error:
        raise ProductRefused(str(error)) from None
