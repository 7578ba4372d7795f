"""Problems with the catalog, one per ``file: field: message`` line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from catalog_assets.errors import CatalogAssetsError


def display_path(path: Path | str) -> str:
    """A path as a user would type it: relative to the working directory when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalog: the file, the field within it, and what to do."""

    path: Path
    field: str
    message: str
    #: A warning is printed but fails nothing (an input declared and never loaded, say).
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        marker = "warning: " if self.severity == "warning" else ""
        return f"{display_path(self.path)}: {self.field}: {marker}{self.message}"


class CatalogError(CatalogAssetsError):
    """The catalog is invalid; ``problems`` lists every problem found, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(str(p) for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"The notebook catalog has {count} problem{'s' if count != 1 else ''}:\n{lines}"
        )
