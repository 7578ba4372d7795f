"""The stock alternatives, as a user would write them with dagstermill, for side-by-side runs.

Module-level functions so ``reconstructable`` can rebuild them in step processes and kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagstermill import (
    ConfigurableLocalOutputNotebookIOManager,
    define_dagstermill_asset,
    define_dagstermill_op,
)


def stock_assets_definitions() -> dg.Definitions:
    """One ``define_dagstermill_asset`` per notebook under ``BENCH_STOCK_DIR``."""
    root = Path(os.environ["BENCH_STOCK_DIR"])
    assets = [
        define_dagstermill_asset(
            name=path.stem, notebook_path=str(path), group_name=path.parent.name
        )
        for path in sorted(root.rglob("*.ipynb"))
    ]
    return dg.Definitions(
        assets=assets,
        resources={
            "output_notebook_io_manager": ConfigurableLocalOutputNotebookIOManager(
                base_dir=os.environ["BENCH_STOCK_OUT"]
            ),
        },
    )


def stock_asset_job() -> dg.JobDefinition:
    """The implicit asset job over one selected stock notebook asset (``BENCH_STOCK_SELECT``)."""
    job = dg.define_asset_job("stock_job", selection=[os.environ["BENCH_STOCK_SELECT"]])
    definitions = dg.Definitions.merge(stock_assets_definitions(), dg.Definitions(jobs=[job]))
    return definitions.resolve_job_def("stock_job")


def stock_op_job() -> dg.JobDefinition:
    """Stock dagstermill's way of handing back a value: an op whose notebook calls
    ``dagstermill.yield_result`` (refused in asset jobs), stored by ``FilesystemIOManager``."""
    op = define_dagstermill_op(
        name="product",
        notebook_path=os.environ["BENCH_STOCK_NOTEBOOK"],
        outs={"result": dg.Out()},
    )

    @dg.job(
        resource_defs={
            "io_manager": dg.FilesystemIOManager(base_dir=os.environ["BENCH_STOCK_OUT"]),
            "output_notebook_io_manager": ConfigurableLocalOutputNotebookIOManager(
                base_dir=os.environ["BENCH_STOCK_OUT"]
            ),
        }
    )
    def stock_yield_result_job():
        op()

    return stock_yield_result_job
