"""The notebook API, as notebooks import it: ``from catalog_assets import notebook as catalog``.

``catalog.load(name)``, ``catalog.path(name)`` and ``catalog.output(value, metrics=...)``; see
``catalog_assets.kernel.api`` for what they do in Jupyter and in a run.
"""

from catalog_assets.kernel.api import NotebookAPIError, load, output, path

__all__ = ["NotebookAPIError", "load", "output", "path"]
