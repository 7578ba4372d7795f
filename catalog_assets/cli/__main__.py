"""``python -m catalog_assets.cli``: the ``catalog`` command."""

import sys

from catalog_assets.cli import main

sys.exit(main())
