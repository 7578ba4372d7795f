"""Reading provider files (sources) into DataFrames, with the read options ``sources.yaml`` gives.

Real provider files are messy: semicolons, latin-1, no header row, decimal commas, preamble rows.
Every failure names the source, the file and the option to set, instead of a pandas traceback from
inside a notebook's first cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog_assets.errors import CatalogAssetsError

_SEPARATORS = (";", "\t", "|", ",")


class SourceReadError(CatalogAssetsError):
    """A source file cannot be read as declared; the message says which option to set."""


def pandas_options(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """``sources.yaml`` read options as pandas keyword arguments."""
    kwargs: dict[str, Any] = {}
    if "sep" in options:
        if options["sep"] == "whitespace":
            kwargs["sep"] = r"\s+"
        else:
            kwargs["sep"] = options["sep"].encode().decode("unicode_escape")
    if "encoding" in options:
        kwargs["encoding"] = options["encoding"]
    if "header" in options:
        kwargs["header"] = None if options["header"] == "none" else options["header"]
    if "names" in options:
        kwargs["names"] = options["names"]
    if "dtypes" in options:
        kwargs["dtype"] = options["dtypes"]
    if "dates" in options:
        kwargs["parse_dates"] = options["dates"]
    if "decimal" in options:
        kwargs["decimal"] = options["decimal"]
    if "thousands" in options:
        kwargs["thousands"] = options["thousands"]
    if "skip_rows" in options:
        kwargs["skiprows"] = options["skip_rows"]
    if "sheet" in options:
        kwargs["sheet_name"] = options["sheet"]
    if fmt == "jsonl":
        kwargs.pop("parse_dates", None)  # converted after reading (read_json's own is deprecated)
    return kwargs


def read_source_file(
    path: Path,
    fmt: str,
    options: dict[str, Any] | None = None,
    *,
    name: str = "source",
    uri: str | None = None,
) -> Any:
    """A source file as a DataFrame.

    Raises:
        SourceReadError: naming the source, the file and what to set in ``sources.yaml``.
    """
    import pandas as pd

    options = {k: v for k, v in (options or {}).items() if v is not None}
    where = f"source {name!r} ({uri or path})"
    kwargs = pandas_options(fmt, options)
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path, engine="pyarrow")
        elif fmt == "csv":
            frame = pd.read_csv(path, **kwargs)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, **kwargs)
        elif fmt == "excel":
            frame = pd.read_excel(path, **kwargs)
        elif fmt == "file":
            raise SourceReadError(
                f"{where} has format: file, which is not read into a table; use "
                f"catalog.path({name!r}) for its local path"
            )
        else:
            raise SourceReadError(f"{where}: unknown format {fmt!r}")
    except SourceReadError:
        raise
    except UnicodeDecodeError as error:
        encoding = options.get("encoding", "utf-8")
        raise SourceReadError(
            f"{where} is not {encoding} text (byte {error.start}: {error.reason}); set "
            "read: {encoding: latin-1} (or the file's encoding) for it in sources.yaml"
        ) from None
    except ImportError as error:
        raise SourceReadError(
            f"{where}: reading {fmt} needs {error.name or error}; add it to the notebooks extra in "
            "pyproject.toml and run make install"
        ) from None
    except (ValueError, KeyError, OSError) as error:
        message = " ".join(str(error).split())
        hint = _hint(fmt, options, message)
        raise SourceReadError(f"{where} cannot be read as {fmt}: {message}{hint}") from None
    if fmt == "jsonl" and options.get("dates"):
        for column in options["dates"]:
            if column not in frame.columns:
                raise SourceReadError(f"{where} has no column {column!r} to read as dates")
            frame[column] = pd.to_datetime(frame[column])
    if fmt == "csv" and not isinstance(frame.index, pd.RangeIndex):
        raise SourceReadError(
            f"{where}: its first row has fewer fields than the rows after it, so it was taken "
            "for a header; if it is a preamble (a title, an export date), set "
            "read: {skip_rows: 1} (or as many rows as it takes) in sources.yaml"
        )
    if (
        fmt == "csv"
        and "header" in options
        and options["header"] == "none"
        and "names" not in options
    ):
        frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
    if fmt == "csv" and "sep" not in options and frame.shape[1] == 1:
        rows = [str(v) for v in frame.iloc[:20, 0].tolist()]
        guessed = _separator_in(str(frame.columns[0]), rows)
        if guessed:
            raise SourceReadError(
                f"{where} read as a single column named {str(frame.columns[0])[:60]!r}: it looks "
                f"separated by {guessed!r}; set read: {{sep: {guessed!r}}} for it in sources.yaml"
            )
    return frame


def _separator_in(header: str, rows: list[str]) -> str | None:
    """The separator a one-column read suggests: one the header and every sampled row hold the
    same number of times (whitespace: the same number of words on every row)."""
    for separator in _SEPARATORS:
        count = header.count(separator)
        if count and all(row.count(separator) == count for row in rows):
            return separator
    tokens = len(header.split())
    if tokens > 1 and len(rows) >= 2 and all(len(row.split()) == tokens for row in rows):
        lengths = {len(word) for row in rows for word in row.split()}
        if len(lengths) > 1 or tokens > 2:
            return "whitespace"
    return None


def _hint(fmt: str, options: dict[str, Any], message: str) -> str:
    if fmt != "csv":
        return ""
    if "Expected" in message and "fields" in message:
        return (
            "; set read: {sep: ...} to the file's separator, or skip_rows to skip a preamble, "
            "in sources.yaml"
        )
    if "could not convert" in message or "Unable to parse" in message:
        return "; set read: {decimal: ','} or fix dtypes in sources.yaml"
    if "Usecols" in message or "not in list" in message or "Missing column" in message:
        return "; check read: dates / dtypes name columns the file has"
    return "; check the read options in sources.yaml"
