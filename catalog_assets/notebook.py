"""The notebook API, as notebooks import it: ``from catalog_assets import notebook as catalog``.

See ``catalog_assets.kernel.api`` for what ``load`` and ``output`` do in Jupyter and in a run.
"""

from catalog_assets.kernel.api import NotebookAPIError, load, output

__all__ = ["NotebookAPIError", "load", "output"]
