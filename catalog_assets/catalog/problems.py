"""Problems with the catalog, one per ``file: field: message`` line."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from catalog_assets.errors import CatalogAssetsError


def display_path(path: Path | str) -> str:
    """A path as a user would type it: relative to the working directory when below it.

    Links are not followed: a link in the catalog is named where it stands, not where it points.
    """
    here = os.path.abspath(os.getcwd())
    there = os.path.abspath(path)
    if there == here or there.startswith(here.rstrip(os.sep) + os.sep):
        return os.path.relpath(there, here)
    return str(path)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest ``name`` (a likely typo), if any is near enough."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the candidate nearest ``name``, else ``""``."""
    hint = closest(name, candidates)
    return f"; did you mean {hint!r}?" if hint else ""


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
