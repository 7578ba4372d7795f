"""The notebook API, as notebooks import it: ``from catalog_assets import notebook as catalog``.

``catalog.load(name)``, ``catalog.path(name)``, ``catalog.output(value, metrics=...)`` and
``catalog.tenant()``; see ``catalog_assets.kernel.api`` for what they do in Jupyter and in a run.
"""

from catalog_assets.kernel.api import NotebookAPIError, load, output, path, tenant

__all__ = ["NotebookAPIError", "load", "output", "path", "tenant"]
